using System.Runtime.InteropServices;
using IoTHub.Broker.Messages;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Storage;

public enum StorageOperationKind : byte
{
    SetRetained = 1,
    DeleteRetained,
    UpsertSession,
    DeleteSession,
    AddSubscription,
    RemoveSubscription,
    EnqueueMessage,
    RemoveQueuedMessage,
    SetOutgoingInflight,
    RemoveOutgoingInflight,
    AddIncomingQos2,
    RemoveIncomingQos2,
    SetWill,
    DeleteWill,
    SetConnectionWill,
    DeleteConnectionWill,
    ForwardReceipt,
}

/// <summary>
/// One write, in broker terms. A struct so that queueing it allocates nothing; which fields mean
/// something depends on <see cref="Kind"/>. Every operation is idempotent (set or delete by key), so
/// replaying a log over state that already holds its effect changes nothing.
/// Operations on a session's children need the session to exist (<see cref="UpsertSession"/> first);
/// <see cref="DeleteSession"/> also deletes its subscriptions, queue and in-flight state, not its will.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly record struct StorageOperation
{
    public StorageOperationKind Kind { get; private init; }

    /// <summary>Forward receipt: the node that forwarded the call.</summary>
    public string ClientId { get; private init; }

    /// <summary>Retained: the topic. Subscriptions: the topic filter. Forward receipt: the node that committed the call.</summary>
    public string? Topic { get; private init; }

    public MqttMessage? Message { get; private init; }

    /// <summary>Queue and send order. Will: its Message Expiry Interval (s), -1 when it has none. Forward receipt: the call's sequence.</summary>
    public long Sequence { get; private init; }

    public ushort PacketId { get; private init; }

    /// <summary>The QoS the session gets the message at.</summary>
    public QualityOfService QualityOfService { get; private init; }

    /// <summary>The RETAIN flag the session gets the message with.</summary>
    public bool Retain { get; private init; }

    /// <summary>Outgoing QoS 2: PUBREL sent.</summary>
    public bool Released { get; private init; }

    /// <summary>Session: expiry interval (s). Subscription: subscription identifier. Will: delay interval (s).</summary>
    public uint Number { get; private init; }

    public SubscriptionOptions Options { get; private init; }

    /// <summary>Session: when it went offline. Will: when it is due.</summary>
    public DateTimeOffset? Time { get; private init; }

    /// <summary>
    /// A connection's will: the connection's claim of its client id in the cluster. Forward receipt: the sequence below which the pair's
    /// receipts are no longer needed.
    /// </summary>
    public long Connection { get; private init; }

    /// <summary>Stores a retained message under its topic, replacing the one there.</summary>
    public static StorageOperation SetRetained(MqttMessage message) =>
        new() { Kind = StorageOperationKind.SetRetained, ClientId = string.Empty, Topic = message.Topic, Message = message };

    public static StorageOperation DeleteRetained(string topic) =>
        new() { Kind = StorageOperationKind.DeleteRetained, ClientId = string.Empty, Topic = topic };

    /// <summary>Creates the session or updates its expiry and disconnect time; its children are kept.</summary>
    public static StorageOperation UpsertSession(string clientId, uint expiryInterval, DateTimeOffset? disconnectedAt) =>
        new() { Kind = StorageOperationKind.UpsertSession, ClientId = clientId, Number = expiryInterval, Time = disconnectedAt };

    public static StorageOperation DeleteSession(string clientId) =>
        new() { Kind = StorageOperationKind.DeleteSession, ClientId = clientId };

    /// <summary>Adds a subscription or replaces the one with the same filter.</summary>
    public static StorageOperation AddSubscription(string clientId, string topicFilter, SubscriptionOptions options, uint subscriptionId) =>
        new() { Kind = StorageOperationKind.AddSubscription, ClientId = clientId, Topic = topicFilter, Options = options, Number = subscriptionId };

    public static StorageOperation RemoveSubscription(string clientId, string topicFilter) =>
        new() { Kind = StorageOperationKind.RemoveSubscription, ClientId = clientId, Topic = topicFilter };

    /// <summary>Queues a message; <paramref name="sequence"/> grows with every message of the session.</summary>
    public static StorageOperation EnqueueMessage(string clientId, long sequence, MqttMessage message, QualityOfService qos, bool retain) =>
        new() { Kind = StorageOperationKind.EnqueueMessage, ClientId = clientId, Sequence = sequence, Message = message, QualityOfService = qos, Retain = retain };

    public static StorageOperation RemoveQueuedMessage(string clientId, long sequence) =>
        new() { Kind = StorageOperationKind.RemoveQueuedMessage, ClientId = clientId, Sequence = sequence };

    /// <summary>Records (or updates, e.g. when PUBREL is sent) an outgoing QoS 1/2 message under its packet id.</summary>
    public static StorageOperation SetOutgoingInflight(string clientId, ushort packetId, long sequence, MqttMessage message, QualityOfService qos, bool retain, bool released) =>
        new()
        {
            Kind = StorageOperationKind.SetOutgoingInflight, ClientId = clientId, PacketId = packetId, Sequence = sequence, Message = message,
            QualityOfService = qos, Retain = retain, Released = released,
        };

    public static StorageOperation RemoveOutgoingInflight(string clientId, ushort packetId) =>
        new() { Kind = StorageOperationKind.RemoveOutgoingInflight, ClientId = clientId, PacketId = packetId };

    public static StorageOperation AddIncomingQos2(string clientId, ushort packetId) =>
        new() { Kind = StorageOperationKind.AddIncomingQos2, ClientId = clientId, PacketId = packetId };

    public static StorageOperation RemoveIncomingQos2(string clientId, ushort packetId) =>
        new() { Kind = StorageOperationKind.RemoveIncomingQos2, ClientId = clientId, PacketId = packetId };

    /// <summary>
    /// Stores a delayed will, replacing the client's previous one: its message without expiry, and the Message Expiry Interval
    /// (null: none) that starts when it is published.
    /// </summary>
    public static StorageOperation SetWill(string clientId, MqttMessage message, uint delayInterval, DateTimeOffset dueAt, uint? expiryInterval) =>
        new()
        {
            Kind = StorageOperationKind.SetWill, ClientId = clientId, Message = message, Number = delayInterval, Time = dueAt,
            Sequence = expiryInterval ?? -1L,
        };

    /// <summary>Will: its Message Expiry Interval in seconds; null when it has none.</summary>
    public uint? WillExpiryInterval => Sequence >= 0 ? (uint)Sequence : null;

    public static StorageOperation DeleteWill(string clientId) =>
        new() { Kind = StorageOperationKind.DeleteWill, ClientId = clientId };

    /// <summary>
    /// Stores the will of a client connected to this cluster node under the connection's <paramref name="claim"/>, replacing the client id's
    /// previous one, so that a survivor publishes it if the node dies (docs/clustering.md); written only to the store the nodes share.
    /// </summary>
    public static StorageOperation SetConnectionWill(string clientId, long claim, MqttMessage message, uint delayInterval, uint? expiryInterval) =>
        new()
        {
            Kind = StorageOperationKind.SetConnectionWill, ClientId = clientId, Connection = claim, Message = message, Number = delayInterval,
            Sequence = expiryInterval ?? -1L,
        };

    /// <summary>Deletes the stored will of the connection of <paramref name="clientId"/> that claimed it with <paramref name="claim"/>, and no later one.</summary>
    public static StorageOperation DeleteConnectionWill(string clientId, long claim) =>
        new() { Kind = StorageOperationKind.DeleteConnectionWill, ClientId = clientId, Connection = claim };

    /// <summary>
    /// Records that node <paramref name="toNode"/> committed call <paramref name="sequence"/> of node <paramref name="fromNode"/> in this
    /// transaction, and that the pair's receipts below <paramref name="pruneBelow"/> are no longer needed: after declaring
    /// <paramref name="toNode"/> dead, <paramref name="fromNode"/> reads which of its doubtful calls committed
    /// (<see cref="ISharedSessionStore.FenceForwardsAsync"/>). Written only to the store the nodes share, acting for <paramref name="toNode"/>;
    /// every other store ignores it.
    /// </summary>
    public static StorageOperation ForwardReceipt(string fromNode, string toNode, long sequence, long pruneBelow) =>
        new() { Kind = StorageOperationKind.ForwardReceipt, ClientId = fromNode, Topic = toNode, Sequence = sequence, Connection = pruneBelow };
}
