namespace IoTHub.Mqtt;

/// <summary>A name/value pair of the User Property (0x26). Order and repeats are kept.</summary>
public readonly record struct UserProperty(string Name, string Value);

/// <summary>
/// The MQTT 5.0 properties of a packet, materialised. Null means "absent". Used for every packet but
/// PUBLISH, whose properties stay raw bytes (see <see cref="PublishPacket"/>).
/// </summary>
public sealed class MqttProperties
{
    public byte? PayloadFormatIndicator { get; set; }

    public uint? MessageExpiryInterval { get; set; }

    public string? ContentType { get; set; }

    public string? ResponseTopic { get; set; }

    public byte[]? CorrelationData { get; set; }

    public List<uint>? SubscriptionIdentifiers { get; set; }

    public uint? SessionExpiryInterval { get; set; }

    public string? AssignedClientIdentifier { get; set; }

    public ushort? ServerKeepAlive { get; set; }

    public string? AuthenticationMethod { get; set; }

    public byte[]? AuthenticationData { get; set; }

    public bool? RequestProblemInformation { get; set; }

    public uint? WillDelayInterval { get; set; }

    public bool? RequestResponseInformation { get; set; }

    public string? ResponseInformation { get; set; }

    public string? ServerReference { get; set; }

    public string? ReasonString { get; set; }

    public ushort? ReceiveMaximum { get; set; }

    public ushort? TopicAliasMaximum { get; set; }

    public ushort? TopicAlias { get; set; }

    public byte? MaximumQoS { get; set; }

    public bool? RetainAvailable { get; set; }

    public List<UserProperty>? UserProperties { get; set; }

    public uint? MaximumPacketSize { get; set; }

    public bool? WildcardSubscriptionAvailable { get; set; }

    public bool? SubscriptionIdentifierAvailable { get; set; }

    public bool? SharedSubscriptionAvailable { get; set; }

    /// <summary>True when no property is set, so that the packet may use its short form.</summary>
    public bool IsEmpty => PropertyCodec.MeasureBlock(this) == 0;

    /// <summary>Encodes the properties as a property block without its length prefix, as a PUBLISH carries them.</summary>
    public byte[] ToBytes()
    {
        var buffer = new byte[PropertyCodec.MeasureBlock(this)];
        var writer = PacketWriter.Into(buffer);
        PropertyCodec.WriteBlockContent(ref writer, this);
        return buffer;
    }

    /// <summary>Decodes a property block (without length prefix) that is valid for <paramref name="target"/>.</summary>
    public static MqttProperties Parse(ReadOnlySpan<byte> block, PropertyTargets target)
    {
        var properties = new MqttProperties();
        PropertyCodec.Read(new System.Buffers.ReadOnlySequence<byte>(block.ToArray()), target, properties);
        return properties;
    }
}
