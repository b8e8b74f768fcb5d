using IoTHub.Broker.Inspection;
using IoTHub.Broker.Sessions;

namespace IoTHub.Broker.Tests;

/// <summary>
/// The dense table the registry walks for its lists and expiry: every session once, the last one filling a removed
/// one's slot, and walks while sessions come and go that never meet a session twice and always meet those that stay.
/// </summary>
public sealed class DenseTableTests
{
    private static List<string> Walk(DenseTable<Session> table)
    {
        var ids = new List<string>();
        foreach (var session in table)
        {
            ids.Add(session.ClientId);
        }

        return ids;
    }

    [Fact]
    public void A_walk_meets_every_session_once_in_the_order_they_were_added_until_one_is_removed()
    {
        var table = new DenseTable<Session>();
        var sessions = Enumerable.Range(0, 40).Select(static i => new Session($"c{i}")).ToList();
        sessions.ForEach(table.Add);

        Assert.Equal(sessions.Select(static s => s.ClientId), Walk(table));

        // The last one takes the slot of the one removed.
        table.Remove(sessions[3]);
        table.Remove(sessions[39]);
        table.Remove(sessions[0]);

        Assert.Equal(["c37", "c1", "c2", "c38", .. sessions.Skip(4).Take(33).Select(static s => s.ClientId)], Walk(table));
        Assert.Equal(-1, sessions[3].TableSlot);

        foreach (var session in sessions.Where(static s => s.TableSlot >= 0).ToList())
        {
            table.Remove(session);
        }

        Assert.Empty(Walk(table));
        table.Add(sessions[5]);
        Assert.Equal(["c5"], Walk(table));
    }

    [Fact]
    public void A_walk_interrupted_by_removals_and_additions_meets_no_session_twice_and_misses_only_moved_ones()
    {
        var (table, staying, churning) = Fill();
        var slotsBefore = staying.Select(static s => s.TableSlot).ToArray();
        var seen = new HashSet<string>();
        var walk = table.GetEnumerator();
        for (var i = 0; i < 2_000 && walk.MoveNext(); i++)
        {
            Assert.True(seen.Add(walk.Current.ClientId));
        }

        // Halfway: every churning session ends (the last session fills each hole) and as many new ones begin.
        var random = new Random(3);
        churning.OrderBy(_ => random.Next()).ToList().ForEach(table.Remove);
        for (var i = 0; i < 2_000; i++)
        {
            table.Add(new Session($"new-{i}"));
        }

        while (walk.MoveNext())
        {
            Assert.True(seen.Add(walk.Current.ClientId), $"met {walk.Current.ClientId} twice");
        }

        var moved = AssertMissedOnlyIfMoved(staying, slotsBefore, seen);
        Assert.True(moved > 0);
    }

    [Fact]
    public async Task Walks_while_another_thread_removes_and_adds_meet_no_session_twice_and_miss_only_moved_ones()
    {
        var (table, staying, churning) = Fill();
        var sync = new Lock();

        // One writer, as under the registry's lock: all churning sessions end, in random order, then as many new ones
        // begin (a session, once removed, never comes back: a client that returns gets a new one).
        var writer = Task.Run(() =>
        {
            var random = new Random(7);
            for (var round = 0; round < 20; round++)
            {
                foreach (var session in churning.OrderBy(_ => random.Next()).ToList())
                {
                    lock (sync)
                    {
                        table.Remove(session);
                    }
                }

                for (var i = 0; i < churning.Count; i++)
                {
                    churning[i] = new Session($"churn-{i}-{round}");
                    lock (sync)
                    {
                        table.Add(churning[i]);
                    }
                }
            }
        });

        do
        {
            // Slots are read under the writer's lock, so that no move is half seen (a session's slot is written
            // before the session lands in it).
            int[] slotsBefore;
            lock (sync)
            {
                slotsBefore = [.. staying.Select(static s => s.TableSlot)];
            }

            var seen = new HashSet<string>();
            foreach (var session in table)
            {
                Assert.True(seen.Add(session.ClientId), $"met {session.ClientId} twice");
            }

            lock (sync)
            {
                AssertMissedOnlyIfMoved(staying, slotsBefore, seen);
            }
        }
        while (!writer.IsCompleted);

        await writer.WaitAsync(TimeSpan.FromSeconds(30));

        // At rest, every staying session is met.
        Assert.Empty(staying.Select(static s => s.ClientId).Except(Walk(table)));
    }

    /// <summary>2 000 sessions that stay interleaved with 2 000 that will go.</summary>
    private static (DenseTable<Session> Table, List<Session> Staying, List<Session> Churning) Fill()
    {
        var table = new DenseTable<Session>();
        var staying = Enumerable.Range(0, 2_000).Select(static i => new Session($"stay-{i}")).ToList();
        var churning = Enumerable.Range(0, 2_000).Select(static i => new Session($"churn-{i}")).ToList();
        for (var i = 0; i < staying.Count; i++)
        {
            table.Add(staying[i]);
            table.Add(churning[i]);
        }

        return (table, staying, churning);
    }

    /// <summary>
    /// A staying session may be missed only when it moved during the walk: a staying session moves only from the tail
    /// down into a hole, so its slot is then lower than when the walk began. Returns how many moved.
    /// </summary>
    private static int AssertMissedOnlyIfMoved(List<Session> staying, int[] slotsBefore, HashSet<string> seen)
    {
        var moved = 0;
        for (var i = 0; i < staying.Count; i++)
        {
            var hasMoved = staying[i].TableSlot < slotsBefore[i];
            moved += hasMoved ? 1 : 0;
            Assert.True(hasMoved || seen.Contains(staying[i].ClientId), $"missed {staying[i].ClientId}, which did not move");
        }

        return moved;
    }
}
