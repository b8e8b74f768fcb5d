using IoTHub.Broker.Routing;

namespace IoTHub.Cluster.Routing;

/// <summary>Another node as this one's replica knows it: its filters as of its batch <see cref="Sequence"/>, and where messages for it queue.</summary>
internal sealed class NodeRoutes(string id, ForwardQueue? outbox)
{
    /// <summary>Its silo address (address:port@generation).</summary>
    public string Id { get; } = id;

    /// <summary>Where messages for it wait for its sender; null in tests of the replica alone.</summary>
    public ForwardQueue? Outbox { get; } = outbox;

    /// <summary>The number of its last batch applied.</summary>
    public long Sequence { get; set; }

    /// <summary>Its route keys: filters, and shared subscriptions' full filters (<c>$share/{group}/{filter}</c>) for their groups.</summary>
    public HashSet<string> Filters { get; } = new(StringComparer.Ordinal);

    private TaskCompletionSource? _refusal;
    private string? _heldFor;

    /// <summary>
    /// Set when the node is declared dead and its filters are kept until its sessions are adopted, or for the route keys of sessions
    /// moving away: what a QoS 1 or 2 message matching them makes its publisher's acknowledgement wait for, a refusal, at once or held
    /// (the publisher then sends it again, docs/clustering.md#a-dead-nodes-routes).
    /// </summary>
    public Task? Refusal => _refusal?.Task;

    /// <summary>From now on a QoS 1 or 2 message matching its filters is refused at once, for <paramref name="reason"/>.</summary>
    public void Refuse(string reason)
    {
        var refusal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        refusal.SetException(new ForwardNotAcceptedException(reason, notTaken: true));
        _refusal = refusal;
    }

    /// <summary>
    /// From now on a QoS 1 or 2 message matching its filters waits, its publisher's acknowledgement held, until <see cref="RefuseHeld"/>
    /// refuses it for <paramref name="reason"/>: its publisher waits instead of being refused again and again meanwhile.
    /// </summary>
    public void Hold(string reason)
    {
        _heldFor = reason;
        _refusal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Refuses what <see cref="Hold"/> held, and from now on at once.</summary>
    public void RefuseHeld()
    {
        if (_heldFor is { } reason)
        {
            _refusal?.TrySetException(new ForwardNotAcceptedException(reason, notTaken: true));
        }
    }
}

/// <summary>What applying a batch did.</summary>
internal enum BatchOutcome
{
    /// <summary>Applied, or a heartbeat that matched.</summary>
    Applied,

    /// <summary>Already applied (or older than a snapshot applied since): ignored.</summary>
    Stale,

    /// <summary>Batches are missing before this one: nothing applied, the sender's snapshot is needed.</summary>
    Gap,

    /// <summary>From a node declared dead: ignored.</summary>
    Dead,
}

/// <summary>
/// This node's replica of which other nodes have subscribers for which filters: deltas applied in the order of their numbers,
/// a snapshot on a gap; a node declared dead is buried (its filters kept, refusing) and purged once its sessions are adopted. The route
/// keys of sessions moving from this node to another refuse too, until that node's filters have them (docs/clustering.md#a-moving-sessions-routes).
/// Matching reads the engine's subscription tree (a <see cref="FilterIndex{T}"/>) without the lock.
/// </summary>
internal sealed class RouteReplica(Func<string, ForwardQueue?> outboxFor)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, NodeRoutes> _nodes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dead = new(StringComparer.Ordinal);

    // The dead nodes whose filters are still in the tree, until their sessions are adopted.
    private readonly Dictionary<string, NodeRoutes> _buried = new(StringComparer.Ordinal);
    private readonly FilterIndex<NodeRoutes> _tree = new();

    // The sessions moving from this node to another, by that node: one refusing entry in the tree for all of them.
    private readonly Dictionary<string, MovingSessions> _moving = new(StringComparer.Ordinal);

    // The route keys of all of them, read without the lock: a message forwarded here is checked against them only when there are some.
    private int _movingKeys;

    // The nodes of _nodes, replaced as a whole when one comes or goes, for the walks over all of them without the lock.
    private NodeRoutes[] _known = [];

    public RouteReplica()
        : this(static _ => null)
    {
    }

    /// <summary>Every other node heard of and not purged (a node is heard of from its first batch or heartbeat, with or without filters).</summary>
    public NodeRoutes[] Known => Volatile.Read(ref _known);

    /// <summary>True when no node has a filter left (the tree pruned to its root).</summary>
    public bool IsEmpty => _tree.IsEmpty;

    /// <summary>True while the route keys of a session moving to another node refuse (<see cref="Moving"/>).</summary>
    public bool HasMoving => Volatile.Read(ref _movingKeys) > 0;

    /// <summary>
    /// Adds to <paramref name="ordinary"/> each node with an ordinary subscription matching <paramref name="topic"/>, once, and to
    /// <paramref name="shared"/> each node's matching share groups.
    /// </summary>
    public void Match(ReadOnlySpan<char> topic, List<NodeRoutes> ordinary, List<SharedMatch<NodeRoutes>> shared) => _tree.Match(topic, ordinary, shared);

    /// <summary>A copy of the filters known for <paramref name="node"/>, and the number of its last batch; empty when unknown.</summary>
    public (long Sequence, string[] Filters) Of(string node)
    {
        lock (_lock)
        {
            return _nodes.TryGetValue(node, out var routes) ? (routes.Sequence, [.. routes.Filters]) : (0, []);
        }
    }

    /// <summary>How many filters are known for <paramref name="node"/>; null when it is unknown or purged.</summary>
    public int? CountOf(string node)
    {
        lock (_lock)
        {
            return _nodes.TryGetValue(node, out var routes) ? routes.Filters.Count : null;
        }
    }

    public BatchOutcome Apply(string node, FilterBatch batch)
    {
        lock (_lock)
        {
            if (_dead.Contains(node))
            {
                return BatchOutcome.Dead;
            }

            var routes = GetOrAdd(node);
            if (batch.Deltas.Length == 0)
            {
                // A heartbeat: the sender's last number.
                return batch.Sequence == routes.Sequence ? BatchOutcome.Applied : batch.Sequence < routes.Sequence ? BatchOutcome.Stale : BatchOutcome.Gap;
            }

            if (batch.Sequence <= routes.Sequence)
            {
                return BatchOutcome.Stale;
            }

            if (batch.Sequence != routes.Sequence + 1)
            {
                return BatchOutcome.Gap;
            }

            foreach (var delta in batch.Deltas)
            {
                Set(routes, delta.Filter, delta.Subscribed);
            }

            routes.Sequence = batch.Sequence;
            return BatchOutcome.Applied;
        }
    }

    /// <summary>Replaces what is known of <paramref name="node"/> by its snapshot, unless a later batch was applied since it was taken.</summary>
    public bool ApplySnapshot(string node, FilterSnapshot snapshot)
    {
        lock (_lock)
        {
            if (_dead.Contains(node))
            {
                return false;
            }

            var routes = GetOrAdd(node);
            if (snapshot.Sequence < routes.Sequence)
            {
                return false;
            }

            var wanted = new HashSet<string>(snapshot.Filters, StringComparer.Ordinal);
            foreach (var filter in routes.Filters.ToArray())
            {
                if (!wanted.Contains(filter))
                {
                    Set(routes, filter, subscribed: false);
                }
            }

            foreach (var filter in wanted)
            {
                Set(routes, filter, subscribed: true);
            }

            routes.Sequence = snapshot.Sequence;
            return true;
        }
    }

    /// <summary>
    /// A node declared dead: what still comes from it is refused and it leaves <see cref="Known"/>, but its filters stay in the tree,
    /// refusing (<see cref="NodeRoutes.Refusal"/>), until <see cref="Purge"/>. Returns its routes; null when unknown, buried or purged.
    /// </summary>
    public NodeRoutes? Bury(string node)
    {
        lock (_lock)
        {
            if (!_dead.Add(node) || !Forget(node, out var routes))
            {
                return null;
            }

            routes.Hold($"node {node} is dead and its sessions were not adopted yet");
            _buried.Add(node, routes);
            return routes;
        }
    }

    /// <summary>
    /// Removes every filter of a node declared dead (buried or not) and refuses what still comes from it; returns its routes, null when
    /// unknown or purged already.
    /// </summary>
    public NodeRoutes? Purge(string node)
    {
        lock (_lock)
        {
            _dead.Add(node);
            if (!_buried.Remove(node, out var routes) && !Forget(node, out routes))
            {
                return null;
            }

            foreach (var filter in routes.Filters)
            {
                _tree.Remove(filter, routes);
            }

            routes.Filters.Clear();
            _tree.Forget(routes);
            return routes;
        }
    }

    /// <summary>
    /// A session of this node moves to <paramref name="node"/>: those of its route <paramref name="keys"/> that the node's filters do not
    /// have yet refuse QoS 1 and 2 messages until they do (<see cref="Arrived"/>) or until <paramref name="deadline"/> (a timestamp,
    /// <see cref="Overdue"/>). Returns how many of them refuse.
    /// </summary>
    public int Moving(string node, IReadOnlyCollection<string> keys, long deadline)
    {
        lock (_lock)
        {
            _nodes.TryGetValue(node, out var known);
            if (!_moving.TryGetValue(node, out var moving))
            {
                _moving[node] = moving = new MovingSessions(node);
            }

            var refusing = 0;
            foreach (var key in keys)
            {
                if (known?.Filters.Contains(key) == true)
                {
                    continue;
                }

                if (moving.Deadlines.TryAdd(key, deadline))
                {
                    _tree.Add(key, moving.Routes);
                    Volatile.Write(ref _movingKeys, _movingKeys + 1);
                }
                else
                {
                    moving.Deadlines[key] = Math.Max(moving.Deadlines[key], deadline);
                }

                refusing++;
            }

            return refusing;
        }
    }

    /// <summary>The route keys of sessions moving to <paramref name="node"/> that its filters have now: they no longer refuse.</summary>
    public string[] Arrived(string node) => Resolve(node, (key, _, known) => known?.Filters.Contains(key) == true);

    /// <summary>
    /// The route keys of sessions moving to <paramref name="node"/> due by <paramref name="deadline"/> (a later move of a key extends its
    /// deadline, and its own bound ends it): they no longer refuse.
    /// </summary>
    public string[] Overdue(string node, long deadline) => Resolve(node, (_, due, _) => due <= deadline);

    private string[] Resolve(string node, Func<string, long, NodeRoutes?, bool> resolved)
    {
        if (!HasMoving)
        {
            return [];
        }

        lock (_lock)
        {
            if (!_moving.TryGetValue(node, out var moving))
            {
                return [];
            }

            _nodes.TryGetValue(node, out var known);
            List<string>? keys = null;
            foreach (var (key, deadline) in moving.Deadlines)
            {
                if (resolved(key, deadline, known))
                {
                    (keys ??= []).Add(key);
                }
            }

            if (keys is null)
            {
                return [];
            }

            foreach (var key in keys)
            {
                moving.Deadlines.Remove(key);
                _tree.Remove(key, moving.Routes);
            }

            Volatile.Write(ref _movingKeys, _movingKeys - keys.Count);
            return [.. keys];
        }
    }

    /// <summary>True when <paramref name="key"/> is a route key of a session moving to another node, refusing.</summary>
    public bool IsMoving(string key)
    {
        if (!HasMoving)
        {
            return false;
        }

        lock (_lock)
        {
            foreach (var moving in _moving.Values)
            {
                if (moving.Deadlines.ContainsKey(key))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// The refusal of a QoS 1 or 2 message another node forwarded here that was for a session moving away: for the ordinary subscriptions
    /// (<paramref name="toSubscribers"/>) of <paramref name="topic"/> matching a moving session's key, or for one of
    /// <paramref name="sharedGroups"/> (their route keys) that is one; null when it was for none.
    /// </summary>
    public Task? MovedRefusal(string topic, bool toSubscribers, string[] sharedGroups)
    {
        List<NodeRoutes>? matched = null;
        if (toSubscribers)
        {
            _tree.Match(topic, matched = [], []);
        }

        lock (_lock)
        {
            foreach (var moving in _moving.Values)
            {
                if (matched?.Contains(moving.Routes) == true || sharedGroups.Any(moving.Deadlines.ContainsKey))
                {
                    return moving.Routes.Refusal;
                }
            }
        }

        return null;
    }

    /// <summary>Takes a live node out of <see cref="Known"/>.</summary>
    private bool Forget(string node, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NodeRoutes? routes)
    {
        if (!_nodes.Remove(node, out routes))
        {
            return false;
        }

        Volatile.Write(ref _known, [.. _nodes.Values]);
        return true;
    }

    private NodeRoutes GetOrAdd(string node)
    {
        if (!_nodes.TryGetValue(node, out var routes))
        {
            _nodes[node] = routes = new NodeRoutes(node, outboxFor(node));
            Volatile.Write(ref _known, [.. _nodes.Values]);
        }

        return routes;
    }

    private void Set(NodeRoutes routes, string filter, bool subscribed)
    {
        if (subscribed)
        {
            if (routes.Filters.Add(filter))
            {
                _tree.Add(filter, routes);
            }
        }
        else if (routes.Filters.Remove(filter))
        {
            _tree.Remove(filter, routes);
        }
    }

    /// <summary>The sessions moving from this node to one other node.</summary>
    private sealed class MovingSessions
    {
        public MovingSessions(string node)
        {
            Routes = new NodeRoutes(node, outbox: null);
            Routes.Refuse($"a session is moving to node {node}; its filters there are not known here yet");
        }

        /// <summary>Their entry in the tree, refusing; never in <see cref="Known"/>.</summary>
        public NodeRoutes Routes { get; }

        /// <summary>Their route keys in the tree, each with the timestamp it stops refusing at the latest.</summary>
        public Dictionary<string, long> Deadlines { get; } = new(StringComparer.Ordinal);
    }
}
