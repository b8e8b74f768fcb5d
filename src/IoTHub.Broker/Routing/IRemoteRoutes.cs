using IoTHub.Broker.Messages;

namespace IoTHub.Broker.Routing;

/// <summary>
/// The seam of cross-node routing (docs/clustering.md): implemented by IoTHub.Cluster, attached to a broker with
/// <see cref="MqttBroker.AttachRemoteRoutes"/>. Without clustering none is attached and a publish pays one null check.
/// </summary>
public interface IRemoteRoutes
{
    /// <summary>
    /// A route key got its first subscription of this node (<paramref name="subscribed"/> true) or lost its last one: a topic filter
    /// for its ordinary subscriptions, a shared subscription's full filter (<c>$share/{group}/{filter}</c>) for the members of its
    /// group. Called under the subscription tree's lock, in the order of the changes: it must only note the change, never block or
    /// call back into the broker.
    /// </summary>
    void LocalFilterChanged(string filter, bool subscribed);

    /// <summary>
    /// Queues <paramref name="message"/>, about to be routed to this node's sessions, for every other node with a matching ordinary
    /// subscription, and picks for each matching share group one node among those with members, this one included (see
    /// <paramref name="shares"/>); a retained one goes to every other node, to keep. Never waits. Returns how many nodes it was
    /// queued for with subscribers there.
    /// </summary>
    /// <param name="shares">This node's members of the matching share groups: a group whose turn goes to another node is given away.</param>
    /// <param name="accepted">
    /// For a QoS 1 or 2 message queued for other nodes: completes when each of them accepted it (routed it to its sessions and
    /// committed what it stored for them), faults with <see cref="ForwardNotAcceptedException"/> when one did not (in time); the
    /// publisher's PUBACK/PUBREC waits for it. Null when there is nothing to wait for (QoS 0, no other node).
    /// </param>
    int Forward(MqttMessage message, LocalShares shares, out Task? accepted);

    /// <summary>
    /// The messages this thread routes until <see cref="EndBatch"/> (the PUBLISH packets of one read) may leave together: their
    /// senders may wait for the end of the batch instead of waking at the first. Never nested; <see cref="EndBatch"/> always follows.
    /// </summary>
    void BeginBatch();

    /// <summary>Ends the batch <see cref="BeginBatch"/> began on this thread: what it queued leaves now.</summary>
    void EndBatch();

    /// <summary>Queues a retained message kept here without being routed (the admin API's), or its deletion, for every other node to keep; never waits.</summary>
    void ShareRetained(MqttMessage message);
}
