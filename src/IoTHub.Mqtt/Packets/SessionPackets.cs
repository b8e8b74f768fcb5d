namespace IoTHub.Mqtt;

/// <summary>PINGREQ (§3.12). Stateless, so one instance serves all.</summary>
public sealed class PingReqPacket : ControlPacket
{
    public static readonly PingReqPacket Instance = new();

    private PingReqPacket()
    {
    }

    public override PacketType Type => PacketType.PingReq;
}

/// <summary>PINGRESP (§3.13). Stateless, so one instance serves all.</summary>
public sealed class PingRespPacket : ControlPacket
{
    public static readonly PingRespPacket Instance = new();

    private PingRespPacket()
    {
    }

    public override PacketType Type => PacketType.PingResp;
}

/// <summary>DISCONNECT (§3.14). 3.1.1 carries neither reason code nor properties.</summary>
public sealed class DisconnectPacket : ControlPacket
{
    public override PacketType Type => PacketType.Disconnect;

    public ReasonCode ReasonCode { get; set; }

    public MqttProperties? Properties { get; set; }
}

/// <summary>AUTH (MQTT 5.0 §3.15).</summary>
public sealed class AuthPacket : ControlPacket
{
    public override PacketType Type => PacketType.Auth;

    public ReasonCode ReasonCode { get; set; }

    public MqttProperties? Properties { get; set; }
}
