using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Sessions;

/// <summary>
/// A message on its way to one session, at the QoS and RETAIN flag that session gets, with the
/// identifiers of the subscriptions it matched (MQTT 5.0 §3.3.4; null when none had one), and the
/// shared subscription it was given to this session by (null when none), so that it can go to
/// another member if this one leaves.
/// </summary>
internal readonly record struct Delivery(MqttMessage Message, QualityOfService QualityOfService, bool Retain, uint[]? SubscriptionIds = null,
    Subscription? Shared = null)
{
    /// <summary>Its place in a stored session's queue; 0 when it is not stored.</summary>
    public long Sequence { get; init; }

    /// <summary>A retained message sent because of a new subscription, not a routed one: it has no delivery latency.</summary>
    public bool AtSubscribe { get; init; }
}

/// <summary>One item for a connection's write loop: a PUBLISH, or a control packet.</summary>
internal readonly struct Outbound
{
    private Outbound(PacketType type, in Delivery delivery, ushort packetId, bool duplicate, ReasonCode reasonCode, ControlPacket? control, Task? commit = null)
    {
        Commit = commit;
        Type = type;
        Delivery = delivery;
        PacketId = packetId;
        Duplicate = duplicate;
        ReasonCode = reasonCode;
        Control = control;
    }

    public PacketType Type { get; }

    public Delivery Delivery { get; }

    public ushort PacketId { get; }

    public bool Duplicate { get; }

    public ReasonCode ReasonCode { get; }

    public ControlPacket? Control { get; }

    /// <summary>
    /// The storage commit this packet must wait for (strict durability): an acknowledgement's, or a QoS 2 PUBLISH's record
    /// of its packet id; null when none.
    /// </summary>
    public Task? Commit { get; }

    public static Outbound Publish(in Delivery delivery, ushort packetId, bool duplicate, Task? commit = null) =>
        new(PacketType.Publish, delivery, packetId, duplicate, ReasonCode.Success, null, commit);

    public static Outbound Ack(PacketType type, ushort packetId, ReasonCode reasonCode, Task? commit = null) =>
        new(type, default, packetId, false, reasonCode, null, commit);

    public static Outbound Packet(ControlPacket control, Task? commit = null) =>
        new(control.Type, default, 0, false, ReasonCode.Success, control, commit);
}
