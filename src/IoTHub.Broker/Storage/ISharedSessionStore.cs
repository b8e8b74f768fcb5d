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
    /// Reads the session of <paramref name="clientId"/> with its subscriptions, queue and in-flight state, and makes the node this
    /// store acts for its owner, in one transaction; null when none is stored. Runs beside the writer's commits, on a connection of its own.
    /// </summary>
    Task<StoredSession?> TakeSessionAsync(string clientId, CancellationToken cancellationToken);
}
