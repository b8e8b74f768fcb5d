namespace IoTHub.Broker.Sessions;

/// <summary>
/// Every session of a registry in one dense array, for the walks over all of them (the admin lists, expiry, <c>$SYS</c>
/// counts). A walk over the client id map visits sessions in hash order, a cache miss per session scattered across the
/// heap (about 90 ns each at 100 000 sessions); this array holds them in the order they were made, which is about the
/// order they lie in memory, so a walk reads ahead. Changed only under the registry's lock; read without locks: a
/// walk while sessions come and go sees every session that stays put, never one twice, and may miss the one that
/// moves while it passes (the last session fills the slot of one removed).
/// </summary>
internal sealed class SessionTable
{
    private Session?[] _slots = new Session?[16];
    private int _count;

    /// <summary>Adds a session that is not in the table. Called under the registry's lock.</summary>
    public void Add(Session session)
    {
        if (_count == _slots.Length)
        {
            var larger = new Session?[_slots.Length * 2];
            _slots.AsSpan().CopyTo(larger);

            // Readers that took the old array finish their walk on it; it is complete up to the count they read.
            Volatile.Write(ref _slots, larger);
        }

        session.TableSlot = _count;
        Volatile.Write(ref _slots[_count], session);
        Volatile.Write(ref _count, _count + 1);
    }

    /// <summary>Removes a session of the table (the last one takes its slot). Called under the registry's lock.</summary>
    public void Remove(Session session)
    {
        var slot = session.TableSlot;
        var last = _count - 1;
        var moved = _slots[last]!;

        // The tail goes first, then the moved session lands in the hole: a reader that sees it in its new slot
        // no longer finds it at the tail, so no walk meets it twice.
        Volatile.Write(ref _count, last);
        Volatile.Write(ref _slots[last], null);
        if (slot != last)
        {
            moved.TableSlot = slot;
            Volatile.Write(ref _slots[slot], moved);
        }

        session.TableSlot = -1;
    }

    /// <summary>Walks the sessions in their slots' order.</summary>
    public Enumerator GetEnumerator()
    {
        var slots = Volatile.Read(ref _slots);
        return new Enumerator(slots, Math.Min(Volatile.Read(ref _count), slots.Length));
    }

    /// <summary>A walk over one array as it was when the walk began (a value: a walk allocates nothing).</summary>
    public struct Enumerator(Session?[] slots, int count)
    {
        private int _index = -1;

        public Session Current { get; private set; } = null!;

        public bool MoveNext()
        {
            while (++_index < count)
            {
                if (Volatile.Read(ref slots[_index]) is { } session)
                {
                    Current = session;
                    return true;
                }
            }

            return false;
        }
    }
}
