using System.Buffers;
using System.Text;

namespace IoTHub.Mqtt;

/// <summary>Reads and writes MQTT 5.0 property blocks (§2.2.2).</summary>
internal static class PropertyCodec
{
    /// <summary>Reads the property length and returns the block it announces, still raw.</summary>
    public static ReadOnlySequence<byte> ReadBlock(ref PacketReader reader)
    {
        var length = reader.ReadVariableByteInteger();
        if (length > reader.Remaining)
        {
            MqttProtocolException.Malformed("property length exceeds the packet");
        }

        return reader.ReadSlice(length);
    }

    /// <summary>
    /// Validates every property of <paramref name="block"/> for <paramref name="target"/>: a property
    /// the specification does not define, or one not allowed in this packet, is a Malformed Packet
    /// (§2.2.2.2); a repeated one (other than User Property, and Subscription Identifier in PUBLISH)
    /// or a value out of range is a Protocol Error. Fills <paramref name="into"/> when given.
    /// </summary>
    public static PublishPropertySummary Read(in ReadOnlySequence<byte> block, PropertyTargets target, MqttProperties? into)
    {
        ushort topicAlias = 0;
        uint? messageExpiry = null;
        byte payloadFormat = 0;
        var hasSubscriptionIds = false;
        ulong seen = 0;

        var reader = new PacketReader(block);
        while (!reader.End)
        {
            var rawId = reader.ReadVariableByteInteger();
            if (!PropertyRules.TryGet(rawId > byte.MaxValue ? (byte)0 : (byte)rawId, out var type, out var targets))
            {
                MqttProtocolException.Malformed("unknown property identifier");
            }

            var id = (PropertyId)rawId;
            if ((targets & target) == 0)
            {
                MqttProtocolException.Malformed("property not allowed in this packet");
            }

            var bit = 1UL << (int)rawId;
            if ((seen & bit) != 0 && !PropertyRules.MayRepeat(id, target))
            {
                MqttProtocolException.ProtocolError("property appears more than once");
            }

            seen |= bit;

            switch (type)
            {
                case PropertyType.Byte:
                    var b = reader.ReadByte();
                    if (b > 1)
                    {
                        MqttProtocolException.ProtocolError("property value must be 0 or 1");
                    }

                    payloadFormat = id == PropertyId.PayloadFormatIndicator ? b : payloadFormat;
                    if (into is not null)
                    {
                        SetByte(into, id, b);
                    }

                    break;
                case PropertyType.TwoByteInteger:
                    var u16 = reader.ReadUInt16();
                    if (u16 == 0 && id == PropertyId.ReceiveMaximum)
                    {
                        MqttProtocolException.ProtocolError("Receive Maximum of 0");
                    }

                    if (u16 == 0 && id == PropertyId.TopicAlias)
                    {
                        // [MQTT-3.3.2-8]
                        MqttProtocolException.Throw(ReasonCode.TopicAliasInvalid, "Topic Alias of 0");
                    }

                    topicAlias = id == PropertyId.TopicAlias ? u16 : topicAlias;
                    if (into is not null)
                    {
                        SetUInt16(into, id, u16);
                    }

                    break;
                case PropertyType.FourByteInteger:
                    var u32 = reader.ReadUInt32();
                    if (u32 == 0 && id == PropertyId.MaximumPacketSize)
                    {
                        MqttProtocolException.ProtocolError("Maximum Packet Size of 0");
                    }

                    messageExpiry = id == PropertyId.MessageExpiryInterval ? u32 : messageExpiry;
                    if (into is not null)
                    {
                        SetUInt32(into, id, u32);
                    }

                    break;
                case PropertyType.VariableByteInteger:
                    // Subscription Identifier is the only one: 1 to 268 435 455 (§3.8.2.1.2).
                    var vbi = reader.ReadVariableByteInteger();
                    if (vbi == 0)
                    {
                        MqttProtocolException.ProtocolError("Subscription Identifier of 0");
                    }

                    hasSubscriptionIds = true;
                    if (into is not null)
                    {
                        (into.SubscriptionIdentifiers ??= []).Add(vbi);
                    }

                    break;
                case PropertyType.Utf8String:
                    var text = reader.ReadUtf8();
                    if (id == PropertyId.ResponseTopic && !TopicRules.IsValidTopicName(text))
                    {
                        // [MQTT-3.3.2-14]
                        MqttProtocolException.ProtocolError("Response Topic is not a valid topic name");
                    }

                    if (into is not null)
                    {
                        SetString(into, id, Encoding.UTF8.GetString(text));
                    }

                    break;
                case PropertyType.BinaryData:
                    var data = reader.ReadBinary();
                    if (into is not null)
                    {
                        SetBinary(into, id, data.ToArray());
                    }

                    break;
                default:
                    var name = reader.ReadUtf8();
                    var value = reader.ReadUtf8();
                    if (into is not null)
                    {
                        (into.UserProperties ??= []).Add(new UserProperty(Encoding.UTF8.GetString(name), Encoding.UTF8.GetString(value)));
                    }

                    break;
            }
        }

        return new PublishPropertySummary(topicAlias, messageExpiry, payloadFormat, hasSubscriptionIds);
    }

    /// <summary>The length of the block written by <see cref="WriteBlockContent"/>.</summary>
    public static int MeasureBlock(MqttProperties? properties)
    {
        if (properties is null)
        {
            return 0;
        }

        var writer = PacketWriter.Measure();
        WriteBlockContent(ref writer, properties);
        return writer.Position;
    }

    /// <summary>Property length then the properties.</summary>
    public static void WriteBlock(ref PacketWriter writer, MqttProperties? properties)
    {
        var length = MeasureBlock(properties);
        writer.WriteVariableByteInteger((uint)length);
        if (length > 0)
        {
            WriteBlockContent(ref writer, properties!);
        }
    }

    /// <summary>The properties in identifier order, user properties last in their own order.</summary>
    public static void WriteBlockContent(ref PacketWriter writer, MqttProperties p)
    {
        WriteByte(ref writer, PropertyId.PayloadFormatIndicator, p.PayloadFormatIndicator);
        WriteUInt32(ref writer, PropertyId.MessageExpiryInterval, p.MessageExpiryInterval);
        WriteString(ref writer, PropertyId.ContentType, p.ContentType);
        WriteString(ref writer, PropertyId.ResponseTopic, p.ResponseTopic);
        WriteBinary(ref writer, PropertyId.CorrelationData, p.CorrelationData);
        if (p.SubscriptionIdentifiers is { } ids)
        {
            foreach (var id in ids)
            {
                writer.WriteByte((byte)PropertyId.SubscriptionIdentifier);
                writer.WriteVariableByteInteger(id);
            }
        }

        WriteUInt32(ref writer, PropertyId.SessionExpiryInterval, p.SessionExpiryInterval);
        WriteString(ref writer, PropertyId.AssignedClientIdentifier, p.AssignedClientIdentifier);
        WriteUInt16(ref writer, PropertyId.ServerKeepAlive, p.ServerKeepAlive);
        WriteString(ref writer, PropertyId.AuthenticationMethod, p.AuthenticationMethod);
        WriteBinary(ref writer, PropertyId.AuthenticationData, p.AuthenticationData);
        WriteBool(ref writer, PropertyId.RequestProblemInformation, p.RequestProblemInformation);
        WriteUInt32(ref writer, PropertyId.WillDelayInterval, p.WillDelayInterval);
        WriteBool(ref writer, PropertyId.RequestResponseInformation, p.RequestResponseInformation);
        WriteString(ref writer, PropertyId.ResponseInformation, p.ResponseInformation);
        WriteString(ref writer, PropertyId.ServerReference, p.ServerReference);
        WriteString(ref writer, PropertyId.ReasonString, p.ReasonString);
        WriteUInt16(ref writer, PropertyId.ReceiveMaximum, p.ReceiveMaximum);
        WriteUInt16(ref writer, PropertyId.TopicAliasMaximum, p.TopicAliasMaximum);
        WriteUInt16(ref writer, PropertyId.TopicAlias, p.TopicAlias);
        WriteByte(ref writer, PropertyId.MaximumQoS, p.MaximumQoS);
        WriteBool(ref writer, PropertyId.RetainAvailable, p.RetainAvailable);
        WriteUInt32(ref writer, PropertyId.MaximumPacketSize, p.MaximumPacketSize);
        WriteBool(ref writer, PropertyId.WildcardSubscriptionAvailable, p.WildcardSubscriptionAvailable);
        WriteBool(ref writer, PropertyId.SubscriptionIdentifierAvailable, p.SubscriptionIdentifierAvailable);
        WriteBool(ref writer, PropertyId.SharedSubscriptionAvailable, p.SharedSubscriptionAvailable);
        if (p.UserProperties is { } pairs)
        {
            foreach (var pair in pairs)
            {
                writer.WriteByte((byte)PropertyId.UserProperty);
                writer.WriteString(pair.Name);
                writer.WriteString(pair.Value);
            }
        }
    }

    private static void WriteByte(ref PacketWriter writer, PropertyId id, byte? value)
    {
        if (value is { } v)
        {
            writer.WriteByte((byte)id);
            writer.WriteByte(v);
        }
    }

    private static void WriteBool(ref PacketWriter writer, PropertyId id, bool? value) =>
        WriteByte(ref writer, id, value is { } v ? (byte)(v ? 1 : 0) : null);

    private static void WriteUInt16(ref PacketWriter writer, PropertyId id, ushort? value)
    {
        if (value is { } v)
        {
            writer.WriteByte((byte)id);
            writer.WriteUInt16(v);
        }
    }

    private static void WriteUInt32(ref PacketWriter writer, PropertyId id, uint? value)
    {
        if (value is { } v)
        {
            writer.WriteByte((byte)id);
            writer.WriteUInt32(v);
        }
    }

    private static void WriteString(ref PacketWriter writer, PropertyId id, string? value)
    {
        if (value is not null)
        {
            writer.WriteByte((byte)id);
            writer.WriteString(value);
        }
    }

    private static void WriteBinary(ref PacketWriter writer, PropertyId id, byte[]? value)
    {
        if (value is not null)
        {
            writer.WriteByte((byte)id);
            writer.WriteBinary(value);
        }
    }

    private static void SetByte(MqttProperties p, PropertyId id, byte value)
    {
        var flag = value == 1;
        switch (id)
        {
            case PropertyId.PayloadFormatIndicator: p.PayloadFormatIndicator = value; break;
            case PropertyId.RequestProblemInformation: p.RequestProblemInformation = flag; break;
            case PropertyId.RequestResponseInformation: p.RequestResponseInformation = flag; break;
            case PropertyId.MaximumQoS: p.MaximumQoS = value; break;
            case PropertyId.RetainAvailable: p.RetainAvailable = flag; break;
            case PropertyId.WildcardSubscriptionAvailable: p.WildcardSubscriptionAvailable = flag; break;
            case PropertyId.SubscriptionIdentifierAvailable: p.SubscriptionIdentifierAvailable = flag; break;
            default: p.SharedSubscriptionAvailable = flag; break;
        }
    }

    private static void SetUInt16(MqttProperties p, PropertyId id, ushort value)
    {
        switch (id)
        {
            case PropertyId.ServerKeepAlive: p.ServerKeepAlive = value; break;
            case PropertyId.ReceiveMaximum: p.ReceiveMaximum = value; break;
            case PropertyId.TopicAliasMaximum: p.TopicAliasMaximum = value; break;
            default: p.TopicAlias = value; break;
        }
    }

    private static void SetUInt32(MqttProperties p, PropertyId id, uint value)
    {
        switch (id)
        {
            case PropertyId.MessageExpiryInterval: p.MessageExpiryInterval = value; break;
            case PropertyId.SessionExpiryInterval: p.SessionExpiryInterval = value; break;
            case PropertyId.WillDelayInterval: p.WillDelayInterval = value; break;
            default: p.MaximumPacketSize = value; break;
        }
    }

    private static void SetString(MqttProperties p, PropertyId id, string value)
    {
        switch (id)
        {
            case PropertyId.ContentType: p.ContentType = value; break;
            case PropertyId.ResponseTopic: p.ResponseTopic = value; break;
            case PropertyId.AssignedClientIdentifier: p.AssignedClientIdentifier = value; break;
            case PropertyId.AuthenticationMethod: p.AuthenticationMethod = value; break;
            case PropertyId.ResponseInformation: p.ResponseInformation = value; break;
            case PropertyId.ServerReference: p.ServerReference = value; break;
            default: p.ReasonString = value; break;
        }
    }

    private static void SetBinary(MqttProperties p, PropertyId id, byte[] value)
    {
        if (id == PropertyId.CorrelationData)
        {
            p.CorrelationData = value;
        }
        else
        {
            p.AuthenticationData = value;
        }
    }
}
