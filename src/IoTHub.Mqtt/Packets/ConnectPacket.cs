namespace IoTHub.Mqtt;

/// <summary>CONNECT (MQTT 5.0 §3.1, 3.1.1 §3.1, and MQTT 3.1 with protocol name "MQIsdp").</summary>
public sealed class ConnectPacket : ControlPacket
{
    public override PacketType Type => PacketType.Connect;

    public MqttProtocolVersion ProtocolVersion { get; set; } = MqttProtocolVersion.V311;

    /// <summary>Clean Session in 3.1.1, Clean Start in 5.0: the same bit, different meanings (§3.1.2.4).</summary>
    public bool CleanStart { get; set; } = true;

    public ushort KeepAlive { get; set; }

    public string ClientId { get; set; } = string.Empty;

    public WillMessage? Will { get; set; }

    public string? UserName { get; set; }

    public byte[]? Password { get; set; }

    public MqttProperties? Properties { get; set; }
}

/// <summary>The will carried by CONNECT.</summary>
public sealed class WillMessage
{
    public string Topic { get; set; } = string.Empty;

    public byte[] Payload { get; set; } = [];

    public QualityOfService QualityOfService { get; set; }

    public bool Retain { get; set; }

    /// <summary>MQTT 5.0 will properties (§3.1.3.2).</summary>
    public MqttProperties? Properties { get; set; }
}
