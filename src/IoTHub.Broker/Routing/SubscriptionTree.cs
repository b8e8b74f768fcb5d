using System.Collections.Concurrent;

namespace IoTHub.Broker.Routing;

/// <summary>
/// The topic tree shared by all sessions of one broker. Matching walks one path per topic level
/// (plus the '+' and '#' branches), so its cost depends on the topic's depth, not on how many
/// subscriptions exist; it takes no lock and allocates nothing. Changes are serialised by one lock,
/// touch only the nodes on the filter's path, and prune nodes left empty.
/// </summary>
public sealed class SubscriptionTree
{
    private readonly Node _root = new(parent: null, level: string.Empty);
    private readonly Lock _writeLock = new();
    private int _count;

    /// <summary>The number of subscriptions in the tree.</summary>
    public int Count => Volatile.Read(ref _count);

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

            var replaced = node.Put(subscription);
            if (!replaced)
            {
                _count++;
            }

            return replaced;
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

            if (!node.Delete(session, group))
            {
                return false;
            }

            _count--;
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
    public void Match(string topic, List<Subscription> matches)
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
        private readonly Node? _parent;
        private readonly string _level;
        // Most nodes have one named child (devices/<id>/cmd: each <id> has only "cmd"), so the first child is
        // kept in a field and a concurrent map is made with the second: a map per node cost about 1 KB and
        // several cache misses per lookup in trees of 100 000 device topics. Once the map exists it holds
        // every child and readers ignore _onlyChild, which is never cleared then: a reader that saw no map
        // yet must still find that child.
        private Node? _onlyChild;
        private ConcurrentDictionary<string, Node>? _children;
        private ConcurrentDictionary<string, Node>.AlternateLookup<ReadOnlySpan<char>> _lookup;
        private Subscription[] _subscriptions = [];

        public Node(Node? parent, string level)
        {
            _parent = parent;
            _level = level;
        }

        public Node? SingleLevel { get; private set; }

        public Node? MultiLevel { get; private set; }

        public bool IsEmpty => _subscriptions.Length == 0 && SingleLevel is null && MultiLevel is null
            && (_children is { } children ? children.IsEmpty : _onlyChild is null);

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

            if (Volatile.Read(ref _children) is not null)
            {
                return _lookup.TryGetValue(level, out var child) ? child : null;
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

            // Writers are serialised by the tree's lock; readers run concurrently.
            if (_children is { } children)
            {
                return children.GetOrAdd(level, static (key, parent) => new Node(parent, key), this);
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

            var added = new Node(this, level);
            var map = new ConcurrentDictionary<string, Node>(StringComparer.Ordinal) { [only._level] = only, [level] = added };
            _lookup = map.GetAlternateLookup<ReadOnlySpan<char>>();
            Volatile.Write(ref _children, map);
            return added;
        }

        /// <summary>Publishes a new array so that lock-free readers see either the old or the new set.</summary>
        public bool Put(Subscription subscription)
        {
            var current = _subscriptions;
            for (var i = 0; i < current.Length; i++)
            {
                if (ReferenceEquals(current[i].Session, subscription.Session) && current[i].ShareGroup == subscription.ShareGroup)
                {
                    var copy = (Subscription[])current.Clone();
                    copy[i] = subscription;
                    Volatile.Write(ref _subscriptions, copy);
                    return true;
                }
            }

            Volatile.Write(ref _subscriptions, [.. current, subscription]);
            return false;
        }

        public bool Delete(Sessions.Session session, string? group)
        {
            var current = _subscriptions;
            var index = -1;
            for (var i = 0; i < current.Length && index < 0; i++)
            {
                index = ReferenceEquals(current[i].Session, session) && current[i].ShareGroup == group ? i : -1;
            }

            if (index < 0)
            {
                return false;
            }

            Volatile.Write(ref _subscriptions, [.. current.AsSpan(0, index), .. current.AsSpan(index + 1)]);
            return true;
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
            else if (_children is { } children)
            {
                children.TryRemove(child._level, out _);
            }
            else if (ReferenceEquals(_onlyChild, child))
            {
                Volatile.Write(ref _onlyChild, null);
            }
        }
    }
}
