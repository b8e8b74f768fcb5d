using System.Buffers;

namespace IoTHub.Mqtt;

/// <summary>
/// Decodes MQTT 3.1, 3.1.1 and 5.0 packets in place from a <see cref="ReadOnlySequence{T}"/>.
/// "Need more data" is a status, never an exception, and a packet larger than the allowed maximum is
/// refused from its fixed header, before its body is buffered.
/// </summary>
public static class MqttDecoder
{
    private const int MaxFixedHeaderLength = 5;

    /// <summary>
    /// Decodes one packet from the start of <paramref name="buffer"/>. On <see cref="DecodeStatus.Packet"/>,
    /// <paramref name="buffer"/> is advanced past it; otherwise it is left as it was.
    /// </summary>
    /// <param name="buffer">The bytes received so far.</param>
    /// <param name="version">The connection's protocol version; <see cref="MqttProtocolVersion.Unknown"/> accepts only CONNECT.</param>
    /// <param name="maximumPacketSize">The largest whole packet (fixed header included) accepted.</param>
    /// <param name="packet">The packet, on <see cref="DecodeStatus.Packet"/>.</param>
    /// <param name="error">The reason, on <see cref="DecodeStatus.Malformed"/>.</param>
    public static DecodeStatus TryDecode(
        ref ReadOnlySequence<byte> buffer,
        MqttProtocolVersion version,
        int maximumPacketSize,
        out DecodedPacket packet,
        out DecodeError error)
    {
        packet = default;
        var status = TryReadFixedHeader(buffer, out var header, out var headerLength, out var remainingLength, out error);
        if (status != DecodeStatus.Packet)
        {
            return status;
        }

        var total = (long)headerLength + remainingLength;
        if (total > maximumPacketSize)
        {
            error = new DecodeError(ReasonCode.PacketTooLarge, "packet exceeds the maximum packet size");
            return DecodeStatus.Malformed;
        }

        if (buffer.Length < total)
        {
            return DecodeStatus.NeedMoreData;
        }

        try
        {
            packet = DecodeBody(header, buffer.Slice(headerLength, remainingLength), version);
        }
        catch (MqttProtocolException ex)
        {
            error = new DecodeError(ex.ReasonCode, ex.Message);
            return DecodeStatus.Malformed;
        }

        buffer = buffer.Slice(total);
        return DecodeStatus.Packet;
    }

    private static DecodeStatus TryReadFixedHeader(
        in ReadOnlySequence<byte> buffer,
        out byte header,
        out int headerLength,
        out int remainingLength,
        out DecodeError error)
    {
        header = 0;
        headerLength = 0;
        remainingLength = 0;
        error = default;

        Span<byte> copy = stackalloc byte[MaxFixedHeaderLength];
        scoped ReadOnlySpan<byte> span = buffer.FirstSpan;
        if (span.Length < MaxFixedHeaderLength && buffer.Length > span.Length)
        {
            var available = (int)Math.Min(buffer.Length, MaxFixedHeaderLength);
            buffer.Slice(0, available).CopyTo(copy);
            span = copy[..available];
        }

        if (span.Length < 2)
        {
            return DecodeStatus.NeedMoreData;
        }

        header = span[0];
        var value = 0;
        for (var i = 1; i < MaxFixedHeaderLength; i++)
        {
            if (i >= span.Length)
            {
                return DecodeStatus.NeedMoreData;
            }

            var b = span[i];
            value |= (b & 0x7F) << (7 * (i - 1));
            if ((b & 0x80) == 0)
            {
                if (b == 0 && i > 1)
                {
                    // [MQTT-1.5.5-1]: the minimum number of bytes (3.1.1 §2.2.3 defines the same encoding).
                    error = new DecodeError(ReasonCode.MalformedPacket, "remaining length not in its minimal encoding");
                    return DecodeStatus.Malformed;
                }

                headerLength = i + 1;
                remainingLength = value;
                return DecodeStatus.Packet;
            }
        }

        // [MQTT-1.5.5-1]/3.1.1 §2.2.3: the Remaining Length uses at most four bytes.
        error = new DecodeError(ReasonCode.MalformedPacket, "remaining length longer than four bytes");
        return DecodeStatus.Malformed;
    }

    private static DecodedPacket DecodeBody(byte header, in ReadOnlySequence<byte> body, MqttProtocolVersion version)
    {
        var type = (PacketType)(header >> 4);
        var flags = header & 0x0F;
        if (type == 0 || (type == PacketType.Auth && version != MqttProtocolVersion.V500))
        {
            MqttProtocolException.Malformed("reserved packet type");
        }

        if (version == MqttProtocolVersion.Unknown && type != PacketType.Connect)
        {
            // [MQTT-3.1.0-1] the first packet from the client must be CONNECT.
            MqttProtocolException.ProtocolError("first packet is not CONNECT");
        }

        // [MQTT-2.1.3-1] (5.0) / [MQTT-2.2.2-1] (3.1.1): fixed header flags are reserved except for PUBLISH.
        var expectedFlags = type is PacketType.PubRel or PacketType.Subscribe or PacketType.Unsubscribe ? 0b0010 : 0;
        if (type != PacketType.Publish && flags != expectedFlags)
        {
            MqttProtocolException.Malformed("reserved fixed header flags are wrong");
        }

        var reader = new PacketReader(body);
        var v5 = version == MqttProtocolVersion.V500;
        return type switch
        {
            PacketType.Connect => new DecodedPacket(ConnectDecoder.Decode(ref reader)),
            PacketType.Publish => new DecodedPacket(DecodePublish(ref reader, flags, v5)),
            PacketType.PubAck or PacketType.PubRec or PacketType.PubRel or PacketType.PubComp =>
                new DecodedPacket(DecodeAck(ref reader, type, v5)),
            PacketType.PingReq or PacketType.PingResp => DecodePing(ref reader, type),
            _ => new DecodedPacket(ControlDecoder.Decode(ref reader, type, version)),
        };
    }

    private static PublishPacket DecodePublish(ref PacketReader reader, int flags, bool v5)
    {
        var qos = (QualityOfService)((flags >> 1) & 0b11);
        if ((int)qos == 3)
        {
            // [MQTT-3.3.1-4]
            MqttProtocolException.Malformed("PUBLISH with QoS 3");
        }

        var duplicate = (flags & 0b1000) != 0;
        if (duplicate && qos == QualityOfService.AtMostOnce)
        {
            // [MQTT-3.3.1-2]
            MqttProtocolException.Malformed("DUP set on a QoS 0 PUBLISH");
        }

        var topic = reader.ReadUtf8();
        var packetId = qos == QualityOfService.AtMostOnce ? (ushort)0 : ReadPacketId(ref reader);
        var properties = ReadOnlySequence<byte>.Empty;
        var summary = default(PublishPropertySummary);
        if (v5)
        {
            properties = PropertyCodec.ReadBlock(ref reader);
            summary = PropertyCodec.Read(properties, PropertyTargets.Publish, into: null);
        }

        if (topic.Length == 0)
        {
            if (!v5 || summary.TopicAlias == 0)
            {
                // [MQTT-4.7.3-1]; 5.0 §3.3.2.1: an empty topic needs a Topic Alias.
                MqttProtocolException.ProtocolError("PUBLISH with an empty topic and no Topic Alias");
            }
        }
        else if (!TopicRules.IsValidTopicName(topic))
        {
            // [MQTT-3.3.2-2]
            MqttProtocolException.Throw(ReasonCode.TopicNameInvalid, "PUBLISH topic contains a wildcard");
        }

        return new PublishPacket(topic, reader.ReadToEnd(), qos, (flags & 1) != 0, duplicate, packetId, properties, summary);
    }

    private static AckPacket DecodeAck(ref PacketReader reader, PacketType type, bool v5)
    {
        var packetId = ReadPacketId(ref reader);
        var reason = ReasonCode.Success;
        MqttProperties? properties = null;
        if (v5 && !reader.End)
        {
            // 5.0 §3.4.2.1: the reason code and property length may be omitted.
            reason = ReadReasonCode(ref reader, type, version: MqttProtocolVersion.V500);
            properties = ReadOptionalProperties(ref reader, type);
        }

        reader.ExpectEnd();
        return new AckPacket(type, packetId, reason, properties);
    }

    private static DecodedPacket DecodePing(ref PacketReader reader, PacketType type)
    {
        reader.ExpectEnd();
        return new DecodedPacket(type == PacketType.PingReq ? PingReqPacket.Instance : PingRespPacket.Instance);
    }

    /// <summary>[MQTT-2.2.1-3] (5.0) / [MQTT-2.3.1-1] (3.1.1): packet identifiers are non-zero.</summary>
    internal static ushort ReadPacketId(ref PacketReader reader)
    {
        var id = reader.ReadUInt16();
        if (id == 0)
        {
            MqttProtocolException.Malformed("packet identifier is 0");
        }

        return id;
    }

    internal static ReasonCode ReadReasonCode(ref PacketReader reader, PacketType type, MqttProtocolVersion version)
    {
        var code = reader.ReadByte();
        if (!ReasonCodeRules.IsAllowed(type, code, version))
        {
            MqttProtocolException.Malformed("reason code not allowed in this packet");
        }

        return (ReasonCode)code;
    }

    /// <summary>Properties that may be left out entirely when the packet ends (5.0 short forms).</summary>
    internal static MqttProperties? ReadOptionalProperties(ref PacketReader reader, PacketType type) =>
        reader.End ? null : ReadProperties(ref reader, PropertyRules.TargetOf(type));

    internal static MqttProperties? ReadProperties(ref PacketReader reader, PropertyTargets target)
    {
        var block = PropertyCodec.ReadBlock(ref reader);
        if (block.IsEmpty)
        {
            return null;
        }

        var properties = new MqttProperties();
        PropertyCodec.Read(block, target, properties);
        return properties;
    }
}
