using IoTHub.Broker.Messages;

namespace IoTHub.Broker.Routing;

/// <summary>
/// The seam of cross-node routing (docs/clustering.md): implemented by IoTHub.Cluster, attached to a broker with
/// <see cref="MqttBroker.AttachRemoteRoutes"/>. Without clustering none is attached and a publish pays one null check.
/// </summary>
public interface IRemoteRoutes
{
    /// <summary>
    /// A topic filter got its first subscription of this node (<paramref name="subscribed"/> true) or lost its last one. A shared
    /// subscription counts as its filter without the group. Called under the subscription tree's lock, in the order of the
    /// changes: it must only note the change, never block or call back into the broker.
    /// </summary>
    void LocalFilterChanged(string filter, bool subscribed);

    /// <summary>
    /// Queues <paramref name="message"/>, just routed to this node's sessions, for every other node with a matching filter;
    /// never waits. Returns how many nodes it was queued for.
    /// </summary>
    int Forward(MqttMessage message);
}
