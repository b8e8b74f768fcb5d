using System.Buffers.Binary;
using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.Interop.Tests;

/// <summary>
/// A 5.0 PUBLISH as it was on the wire: the topic as sent (empty when a known Topic Alias stands for it),
/// the packet identifier, each property (identifier and raw value, in order) and the payload.
/// </summary>
internal sealed record WirePublish(string Topic, int QoS, ushort PacketId, List<(byte Id, byte[] Value)> Properties, string Payload)
{
    /// <summary>The Topic Alias property (0x23), or 0 when there is none.</summary>
    public ushort TopicAlias => Properties.Where(p => p.Id == 0x23).Select(p => BinaryPrimitives.ReadUInt16BigEndian(p.Value)).SingleOrDefault();

    /// <summary>Takes a PUBLISH read by <see cref="RawMqttClient"/> on a 5.0 connection apart.</summary>
    public static WirePublish Parse(RawPacket packet)
    {
        Assert.Equal(PacketType.Publish, packet.Type);
        var body = packet.Body;
        var topicLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        var topic = Encoding.UTF8.GetString(body, 2, topicLength);
        var offset = 2 + topicLength;
        ushort packetId = 0;
        if (packet.QoS > 0)
        {
            packetId = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset));
            offset += 2;
        }

        var propertiesLength = ReadVariableByteInteger(body, ref offset);
        var end = offset + propertiesLength;
        var properties = new List<(byte, byte[])>();
        while (offset < end)
        {
            var id = body[offset++];
            var start = offset;
            switch (id)
            {
                case 0x01: // Payload Format Indicator
                    offset += 1;
                    break;
                case 0x02: // Message Expiry Interval
                    offset += 4;
                    break;
                case 0x23: // Topic Alias
                    offset += 2;
                    break;
                case 0x03 or 0x08 or 0x09: // Content Type, Response Topic (strings), Correlation Data (binary)
                    offset += 2 + BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset));
                    break;
                case 0x0B: // Subscription Identifier
                    ReadVariableByteInteger(body, ref offset);
                    break;
                case 0x26: // User Property: two strings
                    offset += 2 + BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset));
                    offset += 2 + BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset));
                    break;
                default:
                    throw new InvalidDataException($"property 0x{id:X2} may not appear in a PUBLISH (MQTT 5.0 §3.3.2.3)");
            }

            properties.Add((id, body[start..offset]));
        }

        return new WirePublish(topic, packet.QoS, packetId, properties, Encoding.UTF8.GetString(body, end, body.Length - end));
    }

    private static int ReadVariableByteInteger(byte[] body, ref int offset)
    {
        int value = 0, multiplier = 1;
        byte b;
        do
        {
            b = body[offset++];
            value += (b & 0x7F) * multiplier;
            multiplier *= 128;
        }
        while ((b & 0x80) != 0);
        return value;
    }
}
