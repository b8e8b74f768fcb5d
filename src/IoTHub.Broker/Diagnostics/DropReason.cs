namespace IoTHub.Broker.Diagnostics;

/// <summary>Why the broker threw a message away (for one subscriber, or before routing it at all).</summary>
public enum DropReason
{
    /// <summary>A session's queue was full: the new message, or the oldest QoS 0 one (per <see cref="QueueOverflowPolicy"/>).</summary>
    QueueFull,

    /// <summary>Its 5.0 Message Expiry Interval ran out while it waited in a queue (§3.3.2.3.3).</summary>
    Expired,

    /// <summary>Larger than the subscriber's 5.0 Maximum Packet Size [MQTT-3.1.2-25].</summary>
    TooLarge,

    /// <summary>A QoS 0 message for an offline session, not queued (<see cref="BrokerOptions.QueueQoS0WhileOffline"/>).</summary>
    OfflineQoS0,

    /// <summary>Queued or unacknowledged when its session ended (expired, clean start, deleted, or expiry 0 at disconnect).</summary>
    SessionEnded,

    /// <summary>A PUBLISH refused by a topic rule or limit ('$' topics, topic length, topic levels).</summary>
    PublishRefused,

    /// <summary>A non-retained message that matched no subscription, or a shared one left with no member to hand it to.</summary>
    NoSubscribers,

    /// <summary>A QoS 0 PUBLISH that came while the broker was stopping (QoS 1/2 ones stay with their publisher).</summary>
    BrokerStopping,
}

/// <summary>The label values of <see cref="DropReason"/>.</summary>
public static class DropReasons
{
    public static readonly DropReason[] All = Enum.GetValues<DropReason>();

    /// <summary>The snake_case label value, e.g. <c>queue_full</c>.</summary>
    public static string Label(this DropReason reason) => reason switch
    {
        DropReason.QueueFull => "queue_full",
        DropReason.Expired => "expired",
        DropReason.TooLarge => "too_large",
        DropReason.OfflineQoS0 => "offline_qos0",
        DropReason.SessionEnded => "session_ended",
        DropReason.PublishRefused => "publish_refused",
        DropReason.NoSubscribers => "no_subscribers",
        DropReason.BrokerStopping => "broker_stopping",
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };
}
