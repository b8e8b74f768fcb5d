using System.Buffers;

namespace IoTHub.Mqtt;

/// <summary>
/// Encodes packets into an <see cref="IBufferWriter{T}"/>. Each packet is measured with the same code
/// that writes it, then written in one piece (PUBLISH payloads are copied straight after the header).
/// Every method returns the number of bytes written.
/// </summary>
public static class MqttEncoder
{
    public static int Write(IBufferWriter<byte> output, in DecodedPacket packet, MqttProtocolVersion version) =>
        packet.Type == PacketType.Publish
            ? WritePublish(output, packet.Publish, version)
            : WriteFramed(output, packet, version);

    public static int Write(IBufferWriter<byte> output, ControlPacket packet, MqttProtocolVersion version) =>
        WriteFramed(output, new DecodedPacket(packet), version);

    public static int WriteAck(IBufferWriter<byte> output, in AckPacket packet, MqttProtocolVersion version) =>
        WriteFramed(output, new DecodedPacket(packet), version);

    /// <summary>The whole encoded size of <paramref name="packet"/>, to respect a peer's Maximum Packet Size.</summary>
    public static int MeasurePublish(in PublishPacket packet, MqttProtocolVersion version)
    {
        var remaining = PublishRemainingLength(packet, version, out _);
        return 1 + VariableByteInteger.SizeOf((uint)remaining) + remaining;
    }

    public static int WritePublish(IBufferWriter<byte> output, in PublishPacket packet, MqttProtocolVersion version)
    {
        if (packet.Topic.Length > TopicRules.MaxLength)
        {
            throw new ArgumentException("A topic holds at most 65535 bytes.", nameof(packet));
        }

        if ((packet.PacketId == 0) != (packet.QualityOfService == QualityOfService.AtMostOnce))
        {
            throw new ArgumentException("QoS 1 and 2 need a non-zero packet identifier; QoS 0 has none.", nameof(packet));
        }

        var remaining = PublishRemainingLength(packet, version, out var payloadOffset);
        var headerLength = 1 + VariableByteInteger.SizeOf((uint)remaining);
        var beforePayload = headerLength + payloadOffset;

        var writer = PacketWriter.Into(output.GetSpan(beforePayload));
        writer.WriteByte((byte)(0x30 | (packet.Duplicate ? 0b1000 : 0) | ((int)packet.QualityOfService << 1) | (packet.Retain ? 1 : 0)));
        writer.WriteVariableByteInteger((uint)remaining);
        writer.WriteBinary(packet.Topic);
        if (packet.QualityOfService != QualityOfService.AtMostOnce)
        {
            writer.WriteUInt16(packet.PacketId);
        }

        if (version == MqttProtocolVersion.V500)
        {
            writer.WriteVariableByteInteger((uint)packet.Properties.Length);
            writer.WriteRaw(packet.Properties);
        }

        output.Advance(beforePayload);
        foreach (var segment in packet.Payload)
        {
            var source = segment.Span;
            while (!source.IsEmpty)
            {
                var destination = output.GetSpan();
                var count = Math.Min(destination.Length, source.Length);
                source[..count].CopyTo(destination);
                output.Advance(count);
                source = source[count..];
            }
        }

        return beforePayload + (int)packet.Payload.Length;
    }

    /// <summary>Remaining length of a PUBLISH, and the offset of its payload within the variable header.</summary>
    private static int PublishRemainingLength(in PublishPacket packet, MqttProtocolVersion version, out int payloadOffset)
    {
        payloadOffset = 2 + (int)packet.Topic.Length;
        if (packet.QualityOfService != QualityOfService.AtMostOnce)
        {
            payloadOffset += 2;
        }

        if (version == MqttProtocolVersion.V500)
        {
            var propertyLength = (uint)packet.Properties.Length;
            payloadOffset += VariableByteInteger.SizeOf(propertyLength) + (int)propertyLength;
        }

        var remaining = payloadOffset + packet.Payload.Length;
        if (remaining > VariableByteInteger.MaxValue)
        {
            throw new ArgumentException("The packet exceeds the largest remaining length, 268435455 bytes.", nameof(packet));
        }

        return (int)remaining;
    }

    private static int WriteFramed(IBufferWriter<byte> output, in DecodedPacket packet, MqttProtocolVersion version)
    {
        var measure = PacketWriter.Measure();
        WriteBody(ref measure, packet, version);
        var remaining = measure.Position;
        var total = 1 + VariableByteInteger.SizeOf((uint)remaining) + remaining;

        var writer = PacketWriter.Into(output.GetSpan(total));
        var flags = packet.Type is PacketType.PubRel or PacketType.Subscribe or PacketType.Unsubscribe ? 0b0010 : 0;
        writer.WriteByte((byte)(((int)packet.Type << 4) | flags));
        writer.WriteVariableByteInteger((uint)remaining);
        WriteBody(ref writer, packet, version);
        output.Advance(total);
        return total;
    }

    private static void WriteBody(ref PacketWriter writer, in DecodedPacket packet, MqttProtocolVersion version)
    {
        var v5 = version == MqttProtocolVersion.V500;
        switch (packet.Control)
        {
            case null:
                WriteAckBody(ref writer, packet.Ack, v5);
                break;
            case ConnectPacket connect:
                WriteConnectBody(ref writer, connect);
                break;
            case ConnAckPacket connAck:
                // MQTT 3.1 has no Session Present: the byte is reserved and 0.
                writer.WriteByte(connAck.SessionPresent && version != MqttProtocolVersion.V310 ? (byte)1 : (byte)0);
                writer.WriteByte(v5 ? (byte)connAck.ReasonCode : (byte)ConnectReturnCodes.FromReasonCode(connAck.ReasonCode));
                WritePropertiesIf(ref writer, v5, connAck.Properties);
                break;
            case SubscribePacket subscribe:
                writer.WriteUInt16(subscribe.PacketId);
                WritePropertiesIf(ref writer, v5, subscribe.Properties);
                foreach (var subscription in subscribe.Subscriptions)
                {
                    writer.WriteString(subscription.TopicFilter);
                    writer.WriteByte(EncodeOptions(subscription.Options, v5));
                }

                break;
            case SubAckPacket subAck:
                writer.WriteUInt16(subAck.PacketId);
                WritePropertiesIf(ref writer, v5, subAck.Properties);
                WriteReasonCodes(ref writer, subAck.ReasonCodes);
                break;
            case UnsubscribePacket unsubscribe:
                writer.WriteUInt16(unsubscribe.PacketId);
                WritePropertiesIf(ref writer, v5, unsubscribe.Properties);
                foreach (var filter in unsubscribe.TopicFilters)
                {
                    writer.WriteString(filter);
                }

                break;
            case UnsubAckPacket unsubAck:
                writer.WriteUInt16(unsubAck.PacketId);
                if (v5)
                {
                    PropertyCodec.WriteBlock(ref writer, unsubAck.Properties);
                    WriteReasonCodes(ref writer, unsubAck.ReasonCodes);
                }

                break;
            case DisconnectPacket disconnect:
                if (v5)
                {
                    WriteShortFormReason(ref writer, disconnect.ReasonCode, disconnect.Properties);
                }

                break;
            case AuthPacket auth:
                if (!v5)
                {
                    throw new ArgumentException("AUTH exists only in MQTT 5.0.", nameof(packet));
                }

                WriteShortFormReason(ref writer, auth.ReasonCode, auth.Properties);
                break;
            default:
                // PINGREQ and PINGRESP have no variable header and no payload.
                break;
        }
    }

    private static void WriteAckBody(ref PacketWriter writer, in AckPacket ack, bool v5)
    {
        writer.WriteUInt16(ack.PacketId);
        if (!v5)
        {
            return;
        }

        // 5.0 §3.4.2.1: Success without properties may end after the packet identifier.
        var hasProperties = PropertyCodec.MeasureBlock(ack.Properties) > 0;
        if (ack.ReasonCode != ReasonCode.Success || hasProperties)
        {
            writer.WriteByte((byte)ack.ReasonCode);
            if (hasProperties)
            {
                PropertyCodec.WriteBlock(ref writer, ack.Properties);
            }
        }
    }

    /// <summary>DISCONNECT and AUTH: nothing at all for Success without properties.</summary>
    private static void WriteShortFormReason(ref PacketWriter writer, ReasonCode reason, MqttProperties? properties)
    {
        var hasProperties = PropertyCodec.MeasureBlock(properties) > 0;
        if (reason != ReasonCode.Success || hasProperties)
        {
            writer.WriteByte((byte)reason);
            if (hasProperties)
            {
                PropertyCodec.WriteBlock(ref writer, properties);
            }
        }
    }

    private static void WriteConnectBody(ref PacketWriter writer, ConnectPacket connect)
    {
        var version = connect.ProtocolVersion;
        var v5 = version == MqttProtocolVersion.V500;
        writer.WriteString(version == MqttProtocolVersion.V310 ? "MQIsdp" : "MQTT");
        writer.WriteByte((byte)version);

        var will = connect.Will;
        var flags = (connect.UserName is not null ? 0b1000_0000 : 0)
            | (connect.Password is not null ? 0b100_0000 : 0)
            | (will is { Retain: true } ? 0b10_0000 : 0)
            | (will is not null ? ((int)will.QualityOfService << 3) | 0b100 : 0)
            | (connect.CleanStart ? 0b10 : 0);
        writer.WriteByte((byte)flags);
        writer.WriteUInt16(connect.KeepAlive);
        WritePropertiesIf(ref writer, v5, connect.Properties);
        writer.WriteString(connect.ClientId);
        if (will is not null)
        {
            WritePropertiesIf(ref writer, v5, will.Properties);
            writer.WriteString(will.Topic);
            writer.WriteBinary(will.Payload);
        }

        if (connect.UserName is not null)
        {
            writer.WriteString(connect.UserName);
        }

        if (connect.Password is not null)
        {
            writer.WriteBinary(connect.Password);
        }
    }

    private static void WritePropertiesIf(ref PacketWriter writer, bool v5, MqttProperties? properties)
    {
        if (v5)
        {
            PropertyCodec.WriteBlock(ref writer, properties);
        }
    }

    private static void WriteReasonCodes(ref PacketWriter writer, List<ReasonCode> codes)
    {
        foreach (var code in codes)
        {
            writer.WriteByte((byte)code);
        }
    }

    private static byte EncodeOptions(SubscriptionOptions options, bool v5)
    {
        var value = (int)options.QualityOfService;
        if (v5)
        {
            value |= (options.NoLocal ? 0b100 : 0)
                | (options.RetainAsPublished ? 0b1000 : 0)
                | ((int)options.RetainHandling << 4);
        }

        return (byte)value;
    }
}
