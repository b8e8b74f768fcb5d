using System.Numerics;
using IoTHub.Broker.Inspection;

namespace IoTHub.Broker.Routing;

/// <summary>
/// The topic tree shared by all sessions of one broker. Matching walks one path per topic level
/// (plus the '+' and '#' branches), so its cost depends on the topic's depth, not on how many
/// subscriptions exist; it takes no lock and allocates nothing. Changes are serialised by one lock,
/// touch only the nodes on the filter's path, and prune nodes left empty. Every subscription is also in one dense
/// table (<see cref="All"/>), for the walks over all of them.
/// </summary>
internal sealed class SubscriptionTree
{
    private readonly Node _root = new(parent: null, level: string.Empty);
    private readonly Lock _writeLock = new();
    private readonly DenseTable<Subscription> _all = new();

    /// <summary>The number of subscriptions in the tree.</summary>
    public int Count => _all.Count;

    /// <summary>Every subscription of the tree; a live view, safe to walk while it changes (see <see cref="DenseTable{T}"/>).</summary>
    public DenseTable<Subscription> All => _all;

    /// <summary>Called with a shared subscription's full filter (<c>$share/{group}/{filter}</c>) when its last member leaves.</summary>
    internal Action<string>? SharedSubscriptionEmptied { get; init; }

    // Told when a route key gets its first subscription or loses its last (cross-node routing); null on a single node.
    private Action<string, bool>? _filterListener;

    /// <summary>
    /// From now on tells <paramref name="listener"/>, under the tree's lock, when a route key gets its first subscription (true) or
    /// loses its last (false); it is told at once of every key already subscribed. A route key is a filter for its ordinary
    /// subscriptions and, for each share group, the shared subscription's full filter (<c>$share/{group}/{filter}</c>): a group's
    /// members and the filter's ordinary subscribers come and go apart.
    /// </summary>
    public void AttachFilterListener(Action<string, bool> listener)
    {
        lock (_writeLock)
        {
            _filterListener = listener;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var subscription in _all)
            {
                if (seen.Add(RouteKey(subscription)))
                {
                    listener(RouteKey(subscription), true);
                }
            }
        }
    }

    /// <summary>The route key of <paramref name="subscription"/>: its filter, or its full filter when shared (see <see cref="AttachFilterListener"/>).</summary>
    internal static string RouteKey(Subscription subscription) => subscription.ShareGroup is null ? subscription.MatchFilter : subscription.TopicFilter;

    /// <summary>Adds or replaces the session's subscription to the filter; true when it replaced one.</summary>
    public bool Add(Subscription subscription)
    {
        lock (_writeLock)
        {
            var node = _root;
            var filter = subscription.MatchFilter;
            foreach (var range in filter.AsSpan().Split('/'))
            {
                node = node.GetOrAddChild(filter[range]);
            }

            var firstOfKey = _filterListener is not null && !node.HasShareGroup(subscription.ShareGroup);
            if (node.Put(subscription) is { } replaced)
            {
                _all.Replace(replaced, subscription);
                return true;
            }

            _all.Add(subscription);
            if (firstOfKey)
            {
                _filterListener!(RouteKey(subscription), true);
            }

            return false;
        }
    }

    /// <summary>Removes the session's subscription to the filter (shared ones by their full filter); false when there was none.</summary>
    public bool Remove(Sessions.Session session, string topicFilter)
    {
        var (group, filter) = Subscription.Parse(topicFilter);
        lock (_writeLock)
        {
            var node = _root;
            foreach (var range in filter.AsSpan().Split('/'))
            {
                node = node.FindChild(filter.AsSpan(range));
                if (node is null)
                {
                    return false;
                }
            }

            if (node.Delete(session, group) is not { } removed)
            {
                return false;
            }

            _all.Remove(removed);
            if (!node.HasShareGroup(group))
            {
                _filterListener?.Invoke(RouteKey(removed), false);
                if (group is not null)
                {
                    SharedSubscriptionEmptied?.Invoke(topicFilter);
                }
            }

            node.PruneUpwards();
            return true;
        }
    }

    /// <summary>True when no node but the root is left (every empty node was pruned).</summary>
    public bool IsEmpty => _root.IsEmpty;

    /// <summary>
    /// Adds every subscription whose filter matches <paramref name="topic"/> to <paramref name="matches"/>.
    /// A topic starting with '$' is not matched by a leading '+' or '#' [MQTT-4.7.2-1].
    /// </summary>
    public void Match(ReadOnlySpan<char> topic, List<Subscription> matches)
    {
        var dollar = topic.Length > 0 && topic[0] == '$';
        MatchLevel(_root, topic, firstLevel: true, dollar, matches);
    }

    private static void MatchLevel(Node node, ReadOnlySpan<char> remaining, bool firstLevel, bool dollar, List<Subscription> matches)
    {
        var slash = remaining.IndexOf('/');
        var level = slash < 0 ? remaining : remaining[..slash];
        var rest = slash < 0 ? ReadOnlySpan<char>.Empty : remaining[(slash + 1)..];
        var last = slash < 0;

        if (!(firstLevel && dollar))
        {
            // '#' matches this level and everything below it [MQTT-4.7.1-2].
            node.MultiLevel?.AddSubscriptionsTo(matches);
            if (node.SingleLevel is { } plus)
            {
                Descend(plus, rest, last, dollar, matches);
            }
        }

        if (node.FindChild(level) is { } child)
        {
            Descend(child, rest, last, dollar, matches);
        }
    }

    private static void Descend(Node child, ReadOnlySpan<char> rest, bool last, bool dollar, List<Subscription> matches)
    {
        if (last)
        {
            child.AddSubscriptionsTo(matches);

            // "sport/#" also matches "sport": '#' includes the parent level.
            child.MultiLevel?.AddSubscriptionsTo(matches);
        }
        else
        {
            MatchLevel(child, rest, firstLevel: false, dollar, matches);
        }
    }

    private sealed class Node
    {
        private const int MinimumSlots = 8;

        // Marks the slot of a removed child so that probing goes on past it; no topic level is "/".
        private static readonly Node Removed = new(parent: null, level: "/");

        private readonly Node? _parent;
        private readonly string _level;
        private readonly int _hash;

        // Most nodes have one named child (devices/<id>/cmd: each <id> has only "cmd"), so the first child is
        // kept in a field and a table is made with the second. Once the table exists it holds every child and
        // readers ignore _onlyChild, which is never cleared then: a reader that saw no table yet must still
        // find that child.
        private Node? _onlyChild;

        // The table is open addressing with linear probing over child references, at most half full
        // (removed slots included), so a lookup costs the slot, the child and its level: a concurrent map
        // cost one more object per child and one more cache miss per lookup in trees of 100 000 devices.
        // The tree's lock serialises writers; readers take no lock. A writer fills a free slot or marks a
        // removed one in place, and publishes a resized copy as a new array, never touched again.
        private Node?[]? _slots;
        private int _childCount;
        private int _usedSlots;
        private Subscription[] _subscriptions = [];

        public Node(Node? parent, string level)
        {
            _parent = parent;
            _level = level;
            _hash = string.GetHashCode(level);
        }

        public Node? SingleLevel { get; private set; }

        public Node? MultiLevel { get; private set; }

        public bool IsEmpty => _subscriptions.Length == 0 && SingleLevel is null && MultiLevel is null
            && (_slots is null ? _onlyChild is null : _childCount == 0);

        public Node? FindChild(ReadOnlySpan<char> level)
        {
            if (level is "+")
            {
                return SingleLevel;
            }

            if (level is "#")
            {
                return MultiLevel;
            }

            if (Volatile.Read(ref _slots) is { } slots)
            {
                return Probe(slots, level, string.GetHashCode(level));
            }

            return Volatile.Read(ref _onlyChild) is { } only && level.SequenceEqual(only._level) ? only : null;
        }

        public Node GetOrAddChild(string level)
        {
            switch (level)
            {
                case "+":
                    return SingleLevel ??= new Node(this, level);
                case "#":
                    return MultiLevel ??= new Node(this, level);
            }

            if (_slots is { } slots)
            {
                if (Probe(slots, level, string.GetHashCode(level)) is { } existing)
                {
                    return existing;
                }

                var child = new Node(this, level);
                Insert(child);
                return child;
            }

            if (_onlyChild is not { } only)
            {
                var first = new Node(this, level);
                Volatile.Write(ref _onlyChild, first);
                return first;
            }

            if (only._level == level)
            {
                return only;
            }

            var second = new Node(this, level);
            var table = new Node?[MinimumSlots];
            Place(table, only);
            Place(table, second);
            (_childCount, _usedSlots) = (2, 2);
            Volatile.Write(ref _slots, table);
            return second;
        }

        private static Node? Probe(Node?[] slots, ReadOnlySpan<char> level, int hash)
        {
            var mask = slots.Length - 1;
            for (var i = hash & mask; ; i = (i + 1) & mask)
            {
                var node = Volatile.Read(ref slots[i]);
                if (node is null)
                {
                    return null;
                }

                if (node._hash == hash && level.SequenceEqual(node._level))
                {
                    return node;
                }
            }
        }

        /// <summary>Puts a child in the first free slot of a table no reader sees yet.</summary>
        private static void Place(Node?[] slots, Node child)
        {
            var mask = slots.Length - 1;
            var i = child._hash & mask;
            while (slots[i] is not null)
            {
                i = (i + 1) & mask;
            }

            slots[i] = child;
        }

        /// <summary>Adds a child that is not in the table, reusing a removed slot on its probe path.</summary>
        private void Insert(Node child)
        {
            if ((_usedSlots + 1) * 2 > _slots!.Length)
            {
                Rebuild(_childCount + 1);
            }

            var slots = _slots!;
            var mask = slots.Length - 1;
            var i = child._hash & mask;
            while (slots[i] is { } taken && !ReferenceEquals(taken, Removed))
            {
                i = (i + 1) & mask;
            }

            if (slots[i] is null)
            {
                _usedSlots++;
            }

            _childCount++;
            Volatile.Write(ref slots[i], child);
        }

        /// <summary>Publishes a new table sized for <paramref name="children"/>, without removed slots.</summary>
        private void Rebuild(int children)
        {
            var table = new Node?[Math.Max(MinimumSlots, (int)BitOperations.RoundUpToPowerOf2((uint)(children * 2) + 1))];
            foreach (var child in _slots!)
            {
                if (child is not null && !ReferenceEquals(child, Removed))
                {
                    Place(table, child);
                }
            }

            _usedSlots = _childCount;
            Volatile.Write(ref _slots, table);
        }

        /// <summary>Publishes a new array so that lock-free readers see either the old or the new set; returns the subscription replaced, if any.</summary>
        public Subscription? Put(Subscription subscription)
        {
            var current = _subscriptions;
            for (var i = 0; i < current.Length; i++)
            {
                if (ReferenceEquals(current[i].Session, subscription.Session) && current[i].ShareGroup == subscription.ShareGroup)
                {
                    var copy = (Subscription[])current.Clone();
                    copy[i] = subscription;
                    Volatile.Write(ref _subscriptions, copy);
                    return current[i];
                }
            }

            Volatile.Write(ref _subscriptions, [.. current, subscription]);
            return null;
        }

        /// <summary>Removes the session's subscription (of the share group); returns it, or null when there was none.</summary>
        public Subscription? Delete(Sessions.Session session, string? group)
        {
            var current = _subscriptions;
            var index = -1;
            for (var i = 0; i < current.Length && index < 0; i++)
            {
                index = ReferenceEquals(current[i].Session, session) && current[i].ShareGroup == group ? i : -1;
            }

            if (index < 0)
            {
                return null;
            }

            Volatile.Write(ref _subscriptions, [.. current.AsSpan(0, index), .. current.AsSpan(index + 1)]);
            return current[index];
        }

        /// <summary>True when a subscription of <paramref name="group"/> is here; with null, an ordinary one.</summary>
        public bool HasShareGroup(string? group)
        {
            foreach (var subscription in _subscriptions)
            {
                if (subscription.ShareGroup == group)
                {
                    return true;
                }
            }

            return false;
        }

        public void AddSubscriptionsTo(List<Subscription> matches) => matches.AddRange(Volatile.Read(ref _subscriptions));

        public void PruneUpwards()
        {
            var node = this;
            while (node._parent is { } parent && node.IsEmpty)
            {
                parent.RemoveChild(node);
                node = parent;
            }
        }

        private void RemoveChild(Node child)
        {
            if (ReferenceEquals(SingleLevel, child))
            {
                SingleLevel = null;
            }
            else if (ReferenceEquals(MultiLevel, child))
            {
                MultiLevel = null;
            }
            else if (_slots is { } slots)
            {
                RemoveFromTable(slots, child);
            }
            else if (ReferenceEquals(_onlyChild, child))
            {
                Volatile.Write(ref _onlyChild, null);
            }
        }

        private void RemoveFromTable(Node?[] slots, Node child)
        {
            var mask = slots.Length - 1;
            var i = child._hash & mask;
            while (!ReferenceEquals(slots[i], child))
            {
                i = (i + 1) & mask;
            }

            Volatile.Write(ref slots[i], Removed);
            _childCount--;
            if (slots.Length > MinimumSlots && _childCount * 8 < slots.Length)
            {
                Rebuild(_childCount);
            }
        }
    }
}
