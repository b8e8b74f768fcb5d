namespace IoTHub.Broker.Storage;

/// <summary>
/// A store that the nodes of a cluster share (docs/clustering.md#ownership-and-takeover): every stored session belongs to one
/// node, the one that writes it. Implemented by the relational store, acting for a node on PostgreSQL only; without clustering it is
/// never asked to act for a node, and sessions have no owner.
/// </summary>
public interface ISharedSessionStore
{
    /// <summary>
    /// Makes this store act for node <paramref name="node"/> (call before <see cref="IBrokerStore.LoadAsync"/>): it loads only the
    /// sessions that node owns, the sessions it writes are owned by it, and it changes none that another node owns (fencing).
    /// </summary>
    void ActForNode(string node);

    /// <summary>
    /// Reads the session of <paramref name="clientId"/> with its subscriptions, queue, in-flight state and the will it held for its delay,
    /// after making the node this store acts for its owner (committed first: the previous owner's writes change nothing after it); null
    /// when none is stored, or when <paramref name="fromNode"/> is given and that node does not own it (any more). Runs beside the
    /// writer's commits, on connections of its own.
    /// </summary>
    Task<StoredSession?> TakeSessionAsync(string clientId, string? fromNode, CancellationToken cancellationToken);

    /// <summary>The client ids of the sessions <paramref name="node"/> owns.</summary>
    Task<List<string>> ListSessionsAsync(string node, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the wills of the clients that were connected to <paramref name="node"/> and returns them, in one statement: of two callers,
    /// each will goes to one.
    /// </summary>
    Task<List<StoredWill>> TakeConnectionWillsAsync(string node, CancellationToken cancellationToken);

    /// <summary>
    /// Ends the database sessions of <paramref name="node"/> (found by the node's name in their application name), so that the row locks
    /// of a frozen node's open transaction go; returns how many. Needs the same database role or pg_signal_backend.
    /// </summary>
    Task<int> EndConnectionsAsync(string node, CancellationToken cancellationToken);

    /// <summary>
    /// Fences node <paramref name="toNode"/>, declared dead: from the return on, no batch of it carrying a forward receipt
    /// (<see cref="StorageOperation.ForwardReceipt"/>) commits (such a batch fails as a whole); a commit of it in progress is waited for.
    /// Returns those of <paramref name="sequences"/> that <paramref name="toNode"/> committed as calls of <paramref name="fromNode"/>, and
    /// forgets that pair's receipts.
    /// </summary>
    Task<long[]> FenceForwardsAsync(string fromNode, string toNode, long[] sequences, CancellationToken cancellationToken);
}
