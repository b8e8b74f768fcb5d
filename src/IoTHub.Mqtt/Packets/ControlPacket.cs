namespace IoTHub.Mqtt;

/// <summary>
/// A decoded packet other than PUBLISH and the four publish acknowledgements, which are structs so
/// that the message hot path allocates nothing.
/// </summary>
public abstract class ControlPacket
{
    public abstract PacketType Type { get; }
}
