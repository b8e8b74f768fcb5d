namespace IoTHub.Broker.Inspection;

/// <summary>What a <see cref="DenseTable{T}"/> holds: it knows its slot, so it leaves the table without a search.</summary>
internal interface IDenseTableEntry
{
    /// <summary>Its slot in the table that holds it; -1 when it is in none.</summary>
    int TableSlot { get; set; }
}

/// <summary>
/// Every item of a kind in one dense array, for the walks over all of them (the admin lists of sessions and
/// subscriptions, expiry, <c>$SYS</c> counts). A walk over a map or a tree visits items in hash or topic order, a
/// cache miss per item scattered across the heap (about 90 ns each at 100 000 sessions); this array holds them in the
/// order they were made, which is about the order they lie in memory, so a walk reads ahead. Changed only under its
/// owner's lock; read without locks: a walk while items come and go sees every item that stays put, never one twice,
/// and may miss the one that moves while it passes (the last item fills the slot of one removed).
/// </summary>
internal sealed class DenseTable<T>
    where T : class, IDenseTableEntry
{
    private T?[] _slots = new T?[16];
    private int _count;

    /// <summary>Items in the table.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds an item that is not in the table. Called under the owner's lock.</summary>
    public void Add(T item)
    {
        if (_count == _slots.Length)
        {
            var larger = new T?[_slots.Length * 2];
            _slots.AsSpan().CopyTo(larger);

            // Readers that took the old array finish their walk on it; it is complete up to the count they read.
            Volatile.Write(ref _slots, larger);
        }

        item.TableSlot = _count;
        Volatile.Write(ref _slots[_count], item);
        Volatile.Write(ref _count, _count + 1);
    }

    /// <summary>Puts <paramref name="replacement"/> (not in the table) in the slot of <paramref name="item"/>, which leaves it. Called under the owner's lock.</summary>
    public void Replace(T item, T replacement)
    {
        var slot = item.TableSlot;
        replacement.TableSlot = slot;
        Volatile.Write(ref _slots[slot], replacement);
        item.TableSlot = -1;
    }

    /// <summary>Removes an item of the table (the last one takes its slot). Called under the owner's lock.</summary>
    public void Remove(T item)
    {
        var slot = item.TableSlot;
        var last = _count - 1;
        var moved = _slots[last]!;

        // The tail goes first, then the moved item lands in the hole: a reader that sees it in its new slot
        // no longer finds it at the tail, so no walk meets it twice.
        Volatile.Write(ref _count, last);
        Volatile.Write(ref _slots[last], null);
        if (slot != last)
        {
            moved.TableSlot = slot;
            Volatile.Write(ref _slots[slot], moved);
        }

        item.TableSlot = -1;
    }

    /// <summary>Walks the items in their slots' order.</summary>
    public Enumerator GetEnumerator()
    {
        var slots = Volatile.Read(ref _slots);
        return new Enumerator(slots, Math.Min(Volatile.Read(ref _count), slots.Length));
    }

    /// <summary>A walk over one array as it was when the walk began (a value: a walk allocates nothing).</summary>
    public struct Enumerator(T?[] slots, int count)
    {
        private int _index = -1;

        public T Current { get; private set; } = null!;

        public bool MoveNext()
        {
            while (++_index < count)
            {
                if (Volatile.Read(ref slots[_index]) is { } item)
                {
                    Current = item;
                    return true;
                }
            }

            return false;
        }
    }
}
