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

    /// <summary>Starts collecting, on this thread, what the next deliveries store for persistent sessions (see <see cref="EndDeliveries"/>).</summary>
    void BeginDeliveries();

    /// <summary>
    /// Completes when what the deliveries since <see cref="BeginDeliveries"/> stored is committed (strict durability), faults when a
    /// commit failed; null when there is nothing to wait for.
    /// </summary>
    Task? EndDeliveries();
}
