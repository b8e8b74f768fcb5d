using IoTHub.Cluster.Nodes;
using Orleans;
using Orleans.Concurrency;

namespace IoTHub.Cluster.Routing;

/// <summary>
/// One per node, keyed by its silo address and activated on that node: where the other nodes send it their filter changes
/// and the messages its sessions subscribed to.
/// </summary>
internal interface IRoutesGrain : IGrainWithStringKey
{
    /// <summary>The filter changes of node <paramref name="from"/>; a gap makes this node ask <paramref name="from"/> for a snapshot.</summary>
    Task ApplyFiltersAsync(string from, FilterBatch batch);

    /// <summary>Every filter this node has subscribers for, with the number of its last batch.</summary>
    Task<FilterSnapshot> GetFiltersAsync();

    /// <summary>
    /// Delivers messages another node forwarded to this node's sessions (never forwarded again); completes once this node accepted
    /// them: routed to its sessions, and what that stored for persistent sessions committed (strict durability), with
    /// <paramref name="receipt"/> when the sender asks for one.
    /// </summary>
    Task DeliverAsync(ForwardedMessage[] messages, ForwardReceipt? receipt);
}

/// <summary>
/// Reentrant: two nodes that each ask the other for a snapshot while applying the other's batch must not wait for each other.
/// The state is <see cref="ClusterRouting"/>'s, a singleton of the node, not the grain's.
/// </summary>
[OnNodePlacement, Reentrant]
internal sealed class RoutesGrain(ClusterRouting routing) : Grain, IRoutesGrain
{
    public Task ApplyFiltersAsync(string from, FilterBatch batch) => routing.ApplyFiltersAsync(from, batch);

    public Task<FilterSnapshot> GetFiltersAsync() => Task.FromResult(routing.LocalSnapshot());

    public Task DeliverAsync(ForwardedMessage[] messages, ForwardReceipt? receipt) => routing.Deliver(messages, receipt);
}
