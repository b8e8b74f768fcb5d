using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;

namespace IoTHub.Cluster.Routing;

/// <summary>The broker of this node that cross-node routing serves (the host's <c>default</c> broker).</summary>
internal interface ILocalBroker
{
    /// <summary>Joins the broker to the cluster: it tells <paramref name="routes"/> of its filters and forwards through it.</summary>
    void Attach(IRemoteRoutes routes);

    /// <summary>
    /// Delivers a message another node forwarded to this node's sessions only: to the ordinary subscriptions when
    /// <paramref name="toSubscribers"/>, and to one member of each of <paramref name="sharedGroups"/>; returns the sessions reached.
    /// </summary>
    int Deliver(MqttMessage message, bool toSubscribers, string[] sharedGroups);

    /// <summary>
    /// Starts collecting, on this thread, what the next deliveries store for persistent sessions (see <see cref="EndDeliveries"/>):
    /// until then it all goes into one commit. No await until <see cref="EndDeliveries"/>, which must follow on this thread.
    /// </summary>
    void BeginDeliveries();

    /// <summary>
    /// Writes <paramref name="receipt"/>, when given, in the same commit as what the deliveries since <see cref="BeginDeliveries"/>
    /// stored; completes when that is committed (strict durability), faults when the commit failed; null when there is nothing to wait for.
    /// </summary>
    Task? EndDeliveries(ForwardReceipt? receipt);

    /// <summary>
    /// Whether this node's store keeps forward receipts (<see cref="FenceForwardsAsync"/>): the nodes share a store that sessions are
    /// adopted from.
    /// </summary>
    bool KeepsForwardReceipts { get; }

    /// <summary>
    /// Fences node <paramref name="to"/>, declared dead, so that it commits no more forwarded batch, and returns those of
    /// <paramref name="sequences"/>, calls of node <paramref name="from"/> to it, whose batches it committed.
    /// </summary>
    Task<long[]> FenceForwardsAsync(string from, string to, long[] sequences, CancellationToken cancellationToken);
}
