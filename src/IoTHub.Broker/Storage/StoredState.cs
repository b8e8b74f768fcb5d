using IoTHub.Broker.Messages;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Storage;

/// <summary>Everything a store holds, as loaded at start.</summary>
public sealed class StoredState
{
    public List<MqttMessage> Retained { get; } = [];

    /// <summary>Persistent sessions, each with its subscriptions, queue and in-flight state.</summary>
    public List<StoredSession> Sessions { get; } = [];

    /// <summary>Wills published after a delay (MQTT 5.0 Will Delay Interval, §3.1.3.2.2).</summary>
    public List<StoredWill> Wills { get; } = [];
}

/// <summary>A persistent session as stored.</summary>
public sealed class StoredSession(string clientId, uint expiryInterval, DateTimeOffset? disconnectedAt)
{
    public string ClientId { get; } = clientId;

    /// <summary>Session Expiry Interval in seconds.</summary>
    public uint ExpiryInterval { get; } = expiryInterval;

    /// <summary>When the client went offline; null while it was connected.</summary>
    public DateTimeOffset? DisconnectedAt { get; } = disconnectedAt;

    public List<StoredSubscription> Subscriptions { get; } = [];

    /// <summary>Messages waiting to be sent, in queue order (ascending sequence).</summary>
    public List<StoredDelivery> Queued { get; } = [];

    /// <summary>Outgoing QoS 1/2 messages sent and not yet completed, in send order (ascending sequence).</summary>
    public List<StoredInflight> Outgoing { get; } = [];

    /// <summary>Incoming QoS 2 packet ids received and not yet released by PUBREL, ascending.</summary>
    public List<ushort> IncomingQos2 { get; } = [];

    /// <summary>The will the session held for its delay, when read with the session by another node (<see cref="ISharedSessionStore.TakeSessionAsync"/>).</summary>
    public StoredWill? Will { get; set; }
}

public readonly record struct StoredSubscription(string TopicFilter, SubscriptionOptions Options, uint SubscriptionId);

/// <summary>A queued message: <paramref name="Sequence"/> orders the session's queue and identifies the entry.</summary>
public readonly record struct StoredDelivery(long Sequence, MqttMessage Message, QualityOfService QualityOfService, bool Retain);

/// <summary>An outgoing QoS 1/2 message by packet id; <paramref name="Released"/> once PUBREL was sent (QoS 2).</summary>
public readonly record struct StoredInflight(ushort PacketId, long Sequence, MqttMessage Message, QualityOfService QualityOfService, bool Retain, bool Released);

/// <summary>
/// A will waiting for its delay: published at <paramref name="DueAt"/> unless the client comes back. <paramref name="Message"/> has no
/// expiry: it gets <paramref name="ExpiryInterval"/> (seconds, null for none) when it is published (5.0 §3.1.3.2.3). The will of a client
/// connected to a node that died (<see cref="ISharedSessionStore.TakeConnectionWillsAsync"/>) has no due time yet: its delay starts now.
/// </summary>
public readonly record struct StoredWill(string ClientId, MqttMessage Message, uint DelayInterval, DateTimeOffset DueAt, uint? ExpiryInterval);
