using System.Buffers;
using System.Text;

namespace IoTHub.Mqtt;

/// <summary>CONNECT decoding: the packet that also decides the connection's protocol version.</summary>
internal static class ConnectDecoder
{
    public static ConnectPacket Decode(ref PacketReader reader)
    {
        var name = reader.ReadBinary();
        var level = reader.ReadByte();
        var version = DetectVersion(name, level);
        var v5 = version == MqttProtocolVersion.V500;

        var flags = reader.ReadByte();
        if ((flags & 0b1) != 0)
        {
            // [MQTT-3.1.2-3]
            MqttProtocolException.Malformed("CONNECT reserved flag is set");
        }

        var willFlag = (flags & 0b100) != 0;
        var willQos = (flags >> 3) & 0b11;
        var willRetain = (flags & 0b10_0000) != 0;
        var passwordFlag = (flags & 0b100_0000) != 0;
        var userNameFlag = (flags & 0b1000_0000) != 0;
        if (!willFlag && (willQos != 0 || willRetain))
        {
            // 5.0 [MQTT-3.1.2-11] [MQTT-3.1.2-13]; 3.1.1 [MQTT-3.1.2-13] [MQTT-3.1.2-15]
            MqttProtocolException.Malformed("will QoS or will retain set without a will");
        }

        if (willQos == 3)
        {
            // 5.0 [MQTT-3.1.2-12]; 3.1.1 [MQTT-3.1.2-14]
            MqttProtocolException.Malformed("will QoS 3");
        }

        if (!v5 && passwordFlag && !userNameFlag)
        {
            // 3.1.1 [MQTT-3.1.2-22]; 5.0 allows a password without a user name.
            MqttProtocolException.Malformed("password without a user name");
        }

        var packet = new ConnectPacket
        {
            ProtocolVersion = version,
            CleanStart = (flags & 0b10) != 0,
            KeepAlive = reader.ReadUInt16(),
        };
        if (v5)
        {
            packet.Properties = MqttDecoder.ReadProperties(ref reader, PropertyTargets.Connect);
        }

        // [MQTT-3.1.3-3] the client identifier comes first; UTF-8 rules apply [MQTT-3.1.3-4].
        packet.ClientId = reader.ReadString();
        if (willFlag)
        {
            var willProperties = v5 ? MqttDecoder.ReadProperties(ref reader, PropertyTargets.Will) : null;
            var topic = reader.ReadUtf8();
            if (!TopicRules.IsValidTopicName(topic))
            {
                MqttProtocolException.Throw(ReasonCode.TopicNameInvalid, "will topic is empty or contains a wildcard");
            }

            packet.Will = new WillMessage
            {
                Properties = willProperties,
                Topic = Encoding.UTF8.GetString(topic),
                Payload = reader.ReadBinaryArray(),
                QualityOfService = (QualityOfService)willQos,
                Retain = willRetain,
            };
        }

        if (userNameFlag)
        {
            packet.UserName = reader.ReadString();
        }

        if (passwordFlag)
        {
            packet.Password = reader.ReadBinaryArray();
        }

        reader.ExpectEnd();
        return packet;
    }

    /// <summary>
    /// "MQTT" level 4 is 3.1.1, level 5 is 5.0; "MQIsdp" level 3 is 3.1. Another level of a known name is
    /// refused with Unsupported Protocol Version [MQTT-3.1.2-2]; an unknown name is a protocol error, which
    /// closes the connection without CONNACK: the client speaks some other protocol [MQTT-3.1.2-1].
    /// </summary>
    private static MqttProtocolVersion DetectVersion(in ReadOnlySequence<byte> name, byte level)
    {
        Span<byte> text = stackalloc byte[6];
        if (name.Length <= text.Length)
        {
            name.CopyTo(text);
            text = text[..(int)name.Length];
            if (text.SequenceEqual("MQTT"u8) && level is 4 or 5)
            {
                return (MqttProtocolVersion)level;
            }

            if (text.SequenceEqual("MQIsdp"u8) && level == 3)
            {
                return MqttProtocolVersion.V310;
            }

            if (text.SequenceEqual("MQTT"u8) || text.SequenceEqual("MQIsdp"u8))
            {
                MqttProtocolException.Throw(ReasonCode.UnsupportedProtocolVersion, "unsupported protocol level");
            }
        }

        MqttProtocolException.ProtocolError("unknown protocol name");
        return MqttProtocolVersion.Unknown;
    }
}
