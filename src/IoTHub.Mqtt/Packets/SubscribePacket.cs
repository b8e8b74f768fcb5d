namespace IoTHub.Mqtt;

/// <summary>Retain Handling subscription option (MQTT 5.0 §3.8.3.1).</summary>
public enum RetainHandling : byte
{
    SendAtSubscribe = 0,
    SendAtSubscribeIfNew = 1,
    DoNotSend = 2,
}

/// <summary>The subscription options byte. Only <see cref="QualityOfService"/> exists in 3.1.1.</summary>
public readonly record struct SubscriptionOptions(
    QualityOfService QualityOfService,
    bool NoLocal = false,
    bool RetainAsPublished = false,
    RetainHandling RetainHandling = RetainHandling.SendAtSubscribe);

/// <summary>One topic filter of SUBSCRIBE with its options. The filter is checked by the engine (v5 answers 0x8F per filter).</summary>
public readonly record struct TopicSubscription(string TopicFilter, SubscriptionOptions Options);

/// <summary>SUBSCRIBE (§3.8).</summary>
public sealed class SubscribePacket : ControlPacket
{
    public override PacketType Type => PacketType.Subscribe;

    public ushort PacketId { get; set; }

    public List<TopicSubscription> Subscriptions { get; set; } = [];

    public MqttProperties? Properties { get; set; }
}

/// <summary>SUBACK (§3.9). 3.1.1 return codes 0x00, 0x01, 0x02 and 0x80 share their values with 5.0.</summary>
public sealed class SubAckPacket : ControlPacket
{
    public override PacketType Type => PacketType.SubAck;

    public ushort PacketId { get; set; }

    public List<ReasonCode> ReasonCodes { get; set; } = [];

    public MqttProperties? Properties { get; set; }
}

/// <summary>UNSUBSCRIBE (§3.10).</summary>
public sealed class UnsubscribePacket : ControlPacket
{
    public override PacketType Type => PacketType.Unsubscribe;

    public ushort PacketId { get; set; }

    public List<string> TopicFilters { get; set; } = [];

    public MqttProperties? Properties { get; set; }
}

/// <summary>UNSUBACK (§3.11). 3.1.1 has no reason codes: the list stays empty.</summary>
public sealed class UnsubAckPacket : ControlPacket
{
    public override PacketType Type => PacketType.UnsubAck;

    public ushort PacketId { get; set; }

    public List<ReasonCode> ReasonCodes { get; set; } = [];

    public MqttProperties? Properties { get; set; }
}
