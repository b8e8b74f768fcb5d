using System.Buffers;
using System.Text;

namespace IoTHub.Mqtt;

/// <summary>
/// PUBLISH (§3.3). Topic, payload and properties are slices: of the read buffer when decoded, valid
/// until the reader advances past them; or of the caller's memory when encoding. The engine copies
/// what must outlive the read. The property block is kept raw so it can be forwarded untouched;
/// the properties the engine acts on are in <see cref="Summary"/>.
/// </summary>
public readonly struct PublishPacket
{
    /// <summary>Builds a PUBLISH to encode. The property block is validated for PUBLISH.</summary>
    public PublishPacket(
        ReadOnlySequence<byte> topic,
        ReadOnlySequence<byte> payload,
        QualityOfService qualityOfService = QualityOfService.AtMostOnce,
        bool retain = false,
        bool duplicate = false,
        ushort packetId = 0,
        ReadOnlySequence<byte> properties = default)
        : this(topic, payload, qualityOfService, retain, duplicate, packetId, properties,
            PropertyCodec.Read(properties, PropertyTargets.Publish, into: null))
    {
    }

    /// <summary>
    /// Builds a PUBLISH to encode whose property block is known to be valid already (forwarded from a
    /// decoded packet, or composed by the caller), skipping the validation walk of the public
    /// constructor. <see cref="Summary"/> is left empty: it describes decoded packets only.
    /// </summary>
    public static PublishPacket WithTrustedProperties(
        ReadOnlySequence<byte> topic,
        ReadOnlySequence<byte> payload,
        QualityOfService qualityOfService,
        bool retain,
        bool duplicate,
        ushort packetId,
        ReadOnlySequence<byte> properties) =>
        new(topic, payload, qualityOfService, retain, duplicate, packetId, properties, default(PublishPropertySummary));

    internal PublishPacket(
        ReadOnlySequence<byte> topic,
        ReadOnlySequence<byte> payload,
        QualityOfService qualityOfService,
        bool retain,
        bool duplicate,
        ushort packetId,
        ReadOnlySequence<byte> properties,
        PublishPropertySummary summary)
    {
        Topic = topic;
        Payload = payload;
        QualityOfService = qualityOfService;
        Retain = retain;
        Duplicate = duplicate;
        PacketId = packetId;
        Properties = properties;
        Summary = summary;
    }

    /// <summary>The UTF-8 topic name; empty in 5.0 when a Topic Alias stands for it.</summary>
    public ReadOnlySequence<byte> Topic { get; }

    public ReadOnlySequence<byte> Payload { get; }

    public QualityOfService QualityOfService { get; }

    public bool Retain { get; }

    /// <summary>The DUP flag.</summary>
    public bool Duplicate { get; }

    /// <summary>Zero for QoS 0.</summary>
    public ushort PacketId { get; }

    /// <summary>The MQTT 5.0 property block without its length prefix; empty for 3.1.1.</summary>
    public ReadOnlySequence<byte> Properties { get; }

    public PublishPropertySummary Summary { get; }

    /// <summary>The topic as a string (allocates).</summary>
    public string TopicString() => Encoding.UTF8.GetString(Topic);

    /// <summary>The properties materialised (allocates).</summary>
    public MqttProperties ReadProperties()
    {
        var properties = new MqttProperties();
        PropertyCodec.Read(Properties, PropertyTargets.Publish, properties);
        return properties;
    }
}

/// <summary>PUBACK, PUBREC, PUBREL or PUBCOMP (§3.4 to §3.7). A struct: one flows for every QoS 1/2 message.</summary>
public readonly record struct AckPacket(
    PacketType Type,
    ushort PacketId,
    ReasonCode ReasonCode = ReasonCode.Success,
    MqttProperties? Properties = null);
