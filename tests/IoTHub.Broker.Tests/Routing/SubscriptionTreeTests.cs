using System.Runtime.CompilerServices;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Sessions;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>The topic tree: wildcard semantics of 5.0 §4.7 / 3.1.1 §4.7, de-duplication and pruning.</summary>
public sealed class SubscriptionTreeTests
{
    private readonly SubscriptionTree _tree = new();

    [Theory]
    [InlineData("sport/tennis/player1", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1", true)] // '#' includes the parent level
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/ranking", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true)]
    [InlineData("sport/#", "sport", true)]
    [InlineData("#", "sport/tennis", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1/ranking", false)]
    [InlineData("sport/+", "sport", false)]
    [InlineData("sport/+", "sport/", true)] // '+' matches an empty level
    [InlineData("+/+", "/finance", true)]
    [InlineData("/+", "/finance", true)]
    [InlineData("+", "/finance", false)]
    [InlineData("+/tennis/#", "sport/tennis/x", true)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("a/b/c", "a/b", false)]
    [InlineData("A/b", "a/b", false)] // case sensitive
    [InlineData("#", "$SYS/broker", false)] // [MQTT-4.7.2-1]
    [InlineData("+/monitor/Clients", "$SYS/monitor/Clients", false)] // [MQTT-4.7.2-1]
    [InlineData("$SYS/#", "$SYS/monitor/Clients", true)]
    [InlineData("$SYS/monitor/+", "$SYS/monitor/Clients", true)]
    public void Filters_match_topics_as_the_specification_says(string filter, string topic, bool expected)
    {
        var session = new Session("s");
        _tree.Add(new Subscription(session, filter, new SubscriptionOptions(QualityOfService.AtMostOnce), 0));

        var matches = new List<Subscription>();
        _tree.Match(topic, matches);

        Assert.Equal(expected, matches.Count == 1);
        Assert.Equal(expected, TopicFilter.Matches(filter, topic));
    }

    [Fact]
    public void Every_matching_subscription_is_found_once()
    {
        var a = new Session("a");
        var b = new Session("b");
        foreach (var filter in new[] { "x/y/z", "x/+/z", "x/#", "#", "+/y/+", "x/y/z/#" })
        {
            _tree.Add(new Subscription(a, filter, new SubscriptionOptions(QualityOfService.AtMostOnce), 0));
        }

        _tree.Add(new Subscription(b, "x/y/q", new SubscriptionOptions(QualityOfService.AtMostOnce), 0));

        var matches = new List<Subscription>();
        _tree.Match("x/y/z", matches);

        Assert.Equal(6, matches.Count);
        Assert.All(matches, m => Assert.Same(a, m.Session));
        Assert.Equal(6, matches.Select(m => m.TopicFilter).Distinct().Count());
    }

    [Fact]
    public void Subscribing_again_replaces_the_options()
    {
        var session = new Session("s");
        Assert.False(_tree.Add(new Subscription(session, "a/b", new SubscriptionOptions(QualityOfService.AtMostOnce), 0)));
        Assert.True(_tree.Add(new Subscription(session, "a/b", new SubscriptionOptions(QualityOfService.ExactlyOnce), 0)));

        var matches = new List<Subscription>();
        _tree.Match("a/b", matches);

        Assert.Equal(QualityOfService.ExactlyOnce, Assert.Single(matches).Options.QualityOfService);
        Assert.Equal(1, _tree.Count);
    }

    [Fact]
    public void The_table_of_all_subscriptions_holds_each_subscription_in_the_tree_once_as_they_are_replaced_and_removed()
    {
        var a = new Session("a");
        var b = new Session("b");
        var options = new SubscriptionOptions(QualityOfService.AtMostOnce);
        List<Subscription> added = [];
        foreach (var filter in new[] { "a/b", "a/+", "#", "$share/g/a/b", "$queue/x" })
        {
            foreach (var session in new[] { a, b })
            {
                var subscription = new Subscription(session, filter, options, 0);
                _tree.Add(subscription);
                added.Add(subscription);
            }
        }

        var replacement = new Subscription(a, "a/+", new SubscriptionOptions(QualityOfService.ExactlyOnce), 7);
        Assert.True(_tree.Add(replacement));
        var replaced = added.Single(s => s.Session == a && s.TopicFilter == "a/+");
        Assert.True(_tree.Remove(b, "#"));
        Assert.True(_tree.Remove(a, "$share/g/a/b"));
        Assert.False(_tree.Remove(a, "$share/other/a/b"));

        List<Subscription> expected = [.. added.Where(s => !ReferenceEquals(s, replaced) && !(s.Session == b && s.TopicFilter == "#") && !(s.Session == a && s.TopicFilter == "$share/g/a/b")), replacement];
        List<Subscription> walked = [];
        foreach (var subscription in _tree.All)
        {
            walked.Add(subscription);
        }

        Assert.Equal(expected.Count, _tree.Count);
        Assert.Equal(expected.OrderBy(RuntimeHelpers.GetHashCode), walked.OrderBy(RuntimeHelpers.GetHashCode));
        Assert.Equal(-1, replaced.TableSlot);
    }

    [Fact]
    public void Empty_nodes_are_pruned_when_the_last_subscription_goes()
    {
        var a = new Session("a");
        var b = new Session("b");
        string[] filters = ["a/b/c/d", "a/+/c", "a/#", "+/x", "#", "a/b"];
        foreach (var filter in filters)
        {
            _tree.Add(new Subscription(a, filter, new SubscriptionOptions(QualityOfService.AtMostOnce), 0));
            _tree.Add(new Subscription(b, filter, new SubscriptionOptions(QualityOfService.AtMostOnce), 0));
        }

        foreach (var filter in filters)
        {
            Assert.True(_tree.Remove(a, filter));
            Assert.False(_tree.IsEmpty);
            Assert.True(_tree.Remove(b, filter));
        }

        Assert.True(_tree.IsEmpty);
        Assert.Equal(0, _tree.Count);
        Assert.False(_tree.Remove(a, "a/b"));
    }

    [Fact]
    public void A_level_keeps_its_children_as_it_grows_from_one_to_many_and_back()
    {
        // A node holds its first named child in a field and moves to a map with the second: every step of
        // that change, and of pruning back, must keep each remaining filter matching.
        var session = new Session("s");
        string[] filters = ["home/kitchen", "home/hall", "home/attic", "home/kitchen/light"];
        var matches = new List<Subscription>();
        int Matching(string topic)
        {
            matches.Clear();
            _tree.Match(topic, matches);
            return matches.Count;
        }

        for (var added = 0; added < filters.Length; added++)
        {
            _tree.Add(new Subscription(session, filters[added], new SubscriptionOptions(QualityOfService.AtMostOnce), 0));
            for (var i = 0; i < filters.Length; i++)
            {
                Assert.Equal(i <= added ? 1 : 0, Matching(filters[i]));
            }

            Assert.Equal(0, Matching("home/cellar"));
        }

        for (var removed = 0; removed < filters.Length; removed++)
        {
            Assert.True(_tree.Remove(session, filters[removed]));
            for (var i = 0; i < filters.Length; i++)
            {
                Assert.Equal(i > removed ? 1 : 0, Matching(filters[i]));
            }
        }

        Assert.True(_tree.IsEmpty);

        // A single child again after the map emptied, under another name.
        _tree.Add(new Subscription(session, "home/garden", new SubscriptionOptions(QualityOfService.AtMostOnce), 0));
        Assert.Equal(1, Matching("home/garden"));
        Assert.Equal(0, Matching("home/kitchen"));
    }

    [Fact]
    public void A_level_with_many_children_grows_reuses_removed_slots_and_shrinks_without_losing_one()
    {
        // From the second child on, a node keeps its children in an open-addressing table that grows,
        // marks removed slots and shrinks. Random adds and removes against a plain set: after every step
        // the changed id and a sample of others match exactly as the set says.
        var session = new Session("s");
        var options = new SubscriptionOptions(QualityOfService.AtMostOnce);
        var random = new Random(7);
        var expected = new HashSet<int>();
        var matches = new List<Subscription>();
        int Matches(int id)
        {
            matches.Clear();
            _tree.Match($"fleet/{id}/cmd", matches);
            return matches.Count;
        }

        for (var step = 0; step < 20_000; step++)
        {
            var id = random.Next(step < 10_000 ? 3_000 : 300);
            if (expected.Add(id))
            {
                _tree.Add(new Subscription(session, $"fleet/{id}/cmd", options, 0));
            }
            else
            {
                Assert.True(_tree.Remove(session, $"fleet/{id}/cmd"));
                expected.Remove(id);
            }

            Assert.Equal(expected.Contains(id) ? 1 : 0, Matches(id));
            var other = random.Next(3_000);
            Assert.Equal(expected.Contains(other) ? 1 : 0, Matches(other));
        }

        for (var id = 0; id < 3_000; id++)
        {
            Assert.Equal(expected.Contains(id) ? 1 : 0, Matches(id));
        }

        foreach (var id in expected)
        {
            Assert.True(_tree.Remove(session, $"fleet/{id}/cmd"));
        }

        Assert.True(_tree.IsEmpty);
        Assert.Equal(0, _tree.Count);
    }

    [Fact]
    public async Task A_reader_keeps_finding_a_child_while_its_siblings_come_and_go()
    {
        // Readers take no lock: while a writer adds and removes thousands of siblings (tables grow, are
        // rebuilt and shrink), a match of a child that stays must find it every time.
        var stays = new Session("stays");
        var others = new Session("others");
        var options = new SubscriptionOptions(QualityOfService.AtMostOnce);
        _tree.Add(new Subscription(stays, "fleet/kept/cmd", options, 0));
        using var stop = new CancellationTokenSource();
        var reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = Task.Run(() =>
        {
            var matches = new List<Subscription>();
            var rounds = 0;
            while (!stop.IsCancellationRequested)
            {
                matches.Clear();
                _tree.Match("fleet/kept/cmd", matches);
                Assert.Same(stays, Assert.Single(matches).Session);
                rounds++;
                reading.TrySetResult();
            }

            return rounds;
        });

        await reading.Task.WaitAsync(TimeSpan.FromSeconds(10));
        for (var round = 0; round < 20 && !reader.IsCompleted; round++)
        {
            for (var id = 0; id < 2_000; id++)
            {
                _tree.Add(new Subscription(others, $"fleet/{id}/cmd", options, 0));
            }

            for (var id = 0; id < 2_000; id++)
            {
                Assert.True(_tree.Remove(others, $"fleet/{id}/cmd"));
            }
        }

        await stop.CancelAsync();
        Assert.True(await reader.WaitAsync(TimeSpan.FromSeconds(10)) > 0);
        Assert.Equal(1, _tree.Count);
    }

    [Fact]
    public void One_device_topic_among_many_reaches_only_its_subscriber()
    {
        var sessions = Enumerable.Range(0, 10_000).Select(i => new Session("device-" + i)).ToArray();
        foreach (var session in sessions)
        {
            _tree.Add(new Subscription(session, $"devices/{session.ClientId}/commands", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        }

        var matches = new List<Subscription>();
        _tree.Match("devices/device-4242/commands", matches);

        Assert.Same(sessions[4242], Assert.Single(matches).Session);
    }

    [Fact]
    public void Matching_allocates_nothing()
    {
        var session = new Session("s");
        foreach (var filter in new[] { "a/b/c", "a/+/c", "a/#", "#" })
        {
            _tree.Add(new Subscription(session, filter, new SubscriptionOptions(QualityOfService.AtMostOnce), 0));
        }

        var matches = new List<Subscription>(16);
        _tree.Match("a/b/c", matches);
        matches.Clear();

        // The fewest bytes over a few rounds: matching that allocated would do so in every round.
        var fewest = long.MaxValue;
        for (var round = 0; round < 5 && fewest > 0; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1_000; i++)
            {
                _tree.Match("a/b/c", matches);
                matches.Clear();
            }

            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, fewest);
    }
}
