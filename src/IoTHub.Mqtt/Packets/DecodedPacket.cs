namespace IoTHub.Mqtt;

/// <summary>
/// One packet as the decoder returns it: <see cref="Publish"/> when the type is PUBLISH,
/// <see cref="Ack"/> for PUBACK/PUBREC/PUBREL/PUBCOMP, <see cref="Control"/> otherwise.
/// </summary>
public readonly struct DecodedPacket
{
    public DecodedPacket(in PublishPacket publish)
    {
        Type = PacketType.Publish;
        Publish = publish;
    }

    public DecodedPacket(in AckPacket ack)
    {
        Type = ack.Type;
        Ack = ack;
    }

    public DecodedPacket(ControlPacket control)
    {
        Type = control.Type;
        Control = control;
    }

    public PacketType Type { get; }

    public PublishPacket Publish { get; }

    public AckPacket Ack { get; }

    public ControlPacket? Control { get; }
}
