namespace IoTHub.Mqtt;

/// <summary>Decoding of CONNACK, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT and AUTH.</summary>
internal static class ControlDecoder
{
    public static ControlPacket Decode(ref PacketReader reader, PacketType type, MqttProtocolVersion version)
    {
        var v5 = version == MqttProtocolVersion.V500;
        ControlPacket packet = type switch
        {
            PacketType.ConnAck => DecodeConnAck(ref reader, version),
            PacketType.Subscribe => DecodeSubscribe(ref reader, v5),
            PacketType.SubAck => DecodeSubAck(ref reader, version),
            PacketType.Unsubscribe => DecodeUnsubscribe(ref reader, v5),
            PacketType.UnsubAck => DecodeUnsubAck(ref reader, v5),
            PacketType.Disconnect => DecodeDisconnect(ref reader, v5),
            _ => DecodeAuth(ref reader),
        };
        reader.ExpectEnd();
        return packet;
    }

    private static ConnAckPacket DecodeConnAck(ref PacketReader reader, MqttProtocolVersion version)
    {
        var flags = reader.ReadByte();
        if ((flags & 0xFE) != 0)
        {
            // [MQTT-3.2.2-1]
            MqttProtocolException.Malformed("CONNACK reserved flags are set");
        }

        var code = reader.ReadByte();
        if (!ReasonCodeRules.IsAllowed(PacketType.ConnAck, code, version))
        {
            MqttProtocolException.Malformed("CONNACK code not allowed");
        }

        var packet = new ConnAckPacket
        {
            SessionPresent = flags == 1,
            ReasonCode = version == MqttProtocolVersion.V500 ? (ReasonCode)code : ConnectReturnCodes.ToReasonCode((ConnectReturnCode)code),
        };
        if (packet.SessionPresent && code != 0)
        {
            // 5.0 [MQTT-3.2.2-6]; 3.1.1 [MQTT-3.2.2-4]
            MqttProtocolException.ProtocolError("CONNACK refuses the connection but says a session is present");
        }

        if (version == MqttProtocolVersion.V500)
        {
            packet.Properties = MqttDecoder.ReadProperties(ref reader, PropertyTargets.ConnAck);
        }

        return packet;
    }

    private static SubscribePacket DecodeSubscribe(ref PacketReader reader, bool v5)
    {
        var packet = new SubscribePacket { PacketId = MqttDecoder.ReadPacketId(ref reader) };
        if (v5)
        {
            packet.Properties = MqttDecoder.ReadProperties(ref reader, PropertyTargets.Subscribe);
        }

        if (reader.End)
        {
            // [MQTT-3.8.3-3] at least one topic filter.
            MqttProtocolException.ProtocolError("SUBSCRIBE without a topic filter");
        }

        while (!reader.End)
        {
            var filter = ReadTopicFilter(ref reader);
            var options = reader.ReadByte();
            var qos = options & 0b11;
            var reservedMask = v5 ? 0b1100_0000 : 0b1111_1100;
            if ((options & reservedMask) != 0 || qos == 3)
            {
                // 5.0 [MQTT-3.8.3-5]; 3.1.1 [MQTT-3-8.3-4]
                MqttProtocolException.Malformed("SUBSCRIBE options have reserved bits set or QoS 3");
            }

            var noLocal = (options & 0b100) != 0;
            var retainHandling = (options >> 4) & 0b11;
            if (retainHandling == 3)
            {
                MqttProtocolException.ProtocolError("Retain Handling 3");
            }

            if (noLocal && filter.StartsWith(TopicRules.SharePrefix, StringComparison.Ordinal))
            {
                // [MQTT-3.8.3-4]
                MqttProtocolException.ProtocolError("No Local on a shared subscription");
            }

            packet.Subscriptions.Add(new TopicSubscription(
                filter,
                new SubscriptionOptions((QualityOfService)qos, noLocal, (options & 0b1000) != 0, (RetainHandling)retainHandling)));
        }

        return packet;
    }

    private static SubAckPacket DecodeSubAck(ref PacketReader reader, MqttProtocolVersion version)
    {
        var packet = new SubAckPacket { PacketId = MqttDecoder.ReadPacketId(ref reader) };
        if (version == MqttProtocolVersion.V500)
        {
            packet.Properties = MqttDecoder.ReadProperties(ref reader, PropertyTargets.SubAck);
        }

        ReadReasonCodes(ref reader, PacketType.SubAck, version, packet.ReasonCodes);
        return packet;
    }

    private static UnsubscribePacket DecodeUnsubscribe(ref PacketReader reader, bool v5)
    {
        var packet = new UnsubscribePacket { PacketId = MqttDecoder.ReadPacketId(ref reader) };
        if (v5)
        {
            packet.Properties = MqttDecoder.ReadProperties(ref reader, PropertyTargets.Unsubscribe);
        }

        if (reader.End)
        {
            // [MQTT-3.10.3-2] at least one topic filter.
            MqttProtocolException.ProtocolError("UNSUBSCRIBE without a topic filter");
        }

        while (!reader.End)
        {
            packet.TopicFilters.Add(ReadTopicFilter(ref reader));
        }

        return packet;
    }

    /// <summary>A topic filter of SUBSCRIBE or UNSUBSCRIBE: an empty one is malformed ([MQTT-4.7.3-1], 3.1.1 [MQTT-4.7.3-1]).</summary>
    private static string ReadTopicFilter(ref PacketReader reader)
    {
        var filter = reader.ReadString();
        if (filter.Length == 0)
        {
            MqttProtocolException.Malformed("empty topic filter");
        }

        return filter;
    }

    private static UnsubAckPacket DecodeUnsubAck(ref PacketReader reader, bool v5)
    {
        var packet = new UnsubAckPacket { PacketId = MqttDecoder.ReadPacketId(ref reader) };
        if (v5)
        {
            packet.Properties = MqttDecoder.ReadProperties(ref reader, PropertyTargets.UnsubAck);
            ReadReasonCodes(ref reader, PacketType.UnsubAck, MqttProtocolVersion.V500, packet.ReasonCodes);
        }

        return packet;
    }

    private static void ReadReasonCodes(ref PacketReader reader, PacketType type, MqttProtocolVersion version, List<ReasonCode> into)
    {
        if (reader.End)
        {
            MqttProtocolException.Malformed("acknowledgement without reason codes");
        }

        while (!reader.End)
        {
            into.Add(MqttDecoder.ReadReasonCode(ref reader, type, version));
        }
    }

    private static DisconnectPacket DecodeDisconnect(ref PacketReader reader, bool v5)
    {
        var packet = new DisconnectPacket();
        if (v5 && !reader.End)
        {
            // 5.0 §3.14.2.1: a Remaining Length of 0 means Normal disconnection.
            packet.ReasonCode = MqttDecoder.ReadReasonCode(ref reader, PacketType.Disconnect, MqttProtocolVersion.V500);
            packet.Properties = MqttDecoder.ReadOptionalProperties(ref reader, PacketType.Disconnect);
        }

        return packet;
    }

    private static AuthPacket DecodeAuth(ref PacketReader reader)
    {
        var packet = new AuthPacket();
        if (!reader.End)
        {
            // 5.0 §3.15.2.1: a Remaining Length of 0 means Success.
            packet.ReasonCode = MqttDecoder.ReadReasonCode(ref reader, PacketType.Auth, MqttProtocolVersion.V500);
            packet.Properties = MqttDecoder.ReadOptionalProperties(ref reader, PacketType.Auth);
        }

        return packet;
    }
}
