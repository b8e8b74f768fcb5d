using System.Collections.Concurrent;

namespace IoTHub.Cluster.Routing;

/// <summary>
/// The filters of the other nodes, one entry per node and filter (however many sessions there subscribed to it), in a topic
/// tree: matching a topic walks its levels (and the '+' and '#' branches) without a lock and without allocating, and yields each
/// node once. Changes are serialised by the caller (<see cref="RouteReplica"/>'s lock) and prune levels left empty.
/// </summary>
internal sealed class RemoteFilterTree
{
    private readonly Level _root = new(parent: null, name: string.Empty);

    public bool IsEmpty => _root.IsEmpty;

    /// <summary>Adds <paramref name="node"/> to the nodes of <paramref name="filter"/>. Not thread-safe: one writer at a time.</summary>
    public void Add(string filter, NodeRoutes node)
    {
        var level = _root;
        foreach (var range in filter.AsSpan().Split('/'))
        {
            level = level.GetOrAdd(filter[range]);
        }

        level.AddNode(node);
    }

    /// <summary>Removes <paramref name="node"/> from the nodes of <paramref name="filter"/>. Not thread-safe: one writer at a time.</summary>
    public void Remove(string filter, NodeRoutes node)
    {
        var level = _root;
        foreach (var range in filter.AsSpan().Split('/'))
        {
            if (level.Find(filter.AsSpan(range)) is not { } next)
            {
                return;
            }

            level = next;
        }

        level.RemoveNode(node);
        level.Prune();
    }

    /// <summary>Adds to <paramref name="into"/> each node with a filter matching <paramref name="topic"/>, once; '$' topics per [MQTT-4.7.2-1].</summary>
    public void Match(ReadOnlySpan<char> topic, List<NodeRoutes> into) =>
        Walk(_root, topic, first: true, dollar: topic.Length > 0 && topic[0] == '$', into);

    private static void Walk(Level level, ReadOnlySpan<char> topic, bool first, bool dollar, List<NodeRoutes> into)
    {
        var slash = topic.IndexOf('/');
        var name = slash < 0 ? topic : topic[..slash];
        if (!(first && dollar))
        {
            level.MultiLevel?.CollectInto(into);
            if (level.SingleLevel is { } plus)
            {
                Step(plus, topic, slash, dollar, into);
            }
        }

        if (level.FindNamed(name) is { } named)
        {
            Step(named, topic, slash, dollar, into);
        }
    }

    private static void Step(Level level, ReadOnlySpan<char> topic, int slash, bool dollar, List<NodeRoutes> into)
    {
        if (slash >= 0)
        {
            Walk(level, topic[(slash + 1)..], first: false, dollar, into);
            return;
        }

        level.CollectInto(into);
        level.MultiLevel?.CollectInto(into); // "a/#" matches "a" too [MQTT-4.7.1-2]
    }

    private sealed class Level(Level? parent, string name)
    {
        private readonly ConcurrentDictionary<string, Level> _children = new(StringComparer.Ordinal);
        private NodeRoutes[] _nodes = [];

        public Level? SingleLevel { get; private set; }

        public Level? MultiLevel { get; private set; }

        public bool IsEmpty => _nodes.Length == 0 && SingleLevel is null && MultiLevel is null && _children.IsEmpty;

        public Level? FindNamed(ReadOnlySpan<char> level) =>
            _children.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(level, out var child) ? child : null;

        public Level? Find(ReadOnlySpan<char> level) => level switch
        {
            "+" => SingleLevel,
            "#" => MultiLevel,
            _ => FindNamed(level),
        };

        public Level GetOrAdd(string level) => level switch
        {
            "+" => SingleLevel ??= new Level(this, level),
            "#" => MultiLevel ??= new Level(this, level),
            _ => _children.GetOrAdd(level, static (l, p) => new Level(p, l), this),
        };

        public void AddNode(NodeRoutes node)
        {
            if (Array.IndexOf(_nodes, node) < 0)
            {
                Volatile.Write(ref _nodes, [.. _nodes, node]);
            }
        }

        public void RemoveNode(NodeRoutes node)
        {
            var index = Array.IndexOf(_nodes, node);
            if (index >= 0)
            {
                Volatile.Write(ref _nodes, [.. _nodes.AsSpan(0, index), .. _nodes.AsSpan(index + 1)]);
            }
        }

        public void CollectInto(List<NodeRoutes> into)
        {
            foreach (var node in Volatile.Read(ref _nodes))
            {
                if (!into.Contains(node))
                {
                    into.Add(node);
                }
            }
        }

        public void Prune()
        {
            var level = this;
            while (level.IsEmpty && level.Parent is { } up)
            {
                up.Forget(level);
                level = up;
            }
        }

        private Level? Parent => parent;

        private void Forget(Level child)
        {
            if (ReferenceEquals(SingleLevel, child))
            {
                SingleLevel = null;
            }
            else if (ReferenceEquals(MultiLevel, child))
            {
                MultiLevel = null;
            }
            else
            {
                _children.TryRemove(child.Name, out _);
            }
        }

        private string Name => name;
    }
}
