using System.Buffers;

namespace IoTHub.Mqtt;

/// <summary>
/// Edits a raw, already validated property block without materialising it: a broker forwards a
/// PUBLISH's properties untouched except those that belong to one hop (Topic Alias, Subscription
/// Identifier, MQTT 5.0 §3.3.2.3.4 and §3.3.4).
/// </summary>
public static class PropertyBlock
{
    /// <summary>A set of property identifiers for <see cref="MeasureWithout"/> and <see cref="CopyWithout"/>.</summary>
    public static ulong Mask(PropertyId id) => 1UL << (int)id;

    /// <summary>The length of <paramref name="block"/> once the properties in <paramref name="removed"/> are left out.</summary>
    public static int MeasureWithout(in ReadOnlySequence<byte> block, ulong removed)
    {
        var writer = PacketWriter.Measure();
        Copy(block, removed, ref writer);
        return writer.Position;
    }

    /// <summary>Copies <paramref name="block"/> leaving out the properties in <paramref name="removed"/>; returns the bytes written.</summary>
    public static int CopyWithout(in ReadOnlySequence<byte> block, ulong removed, Span<byte> destination)
    {
        var writer = PacketWriter.Into(destination);
        Copy(block, removed, ref writer);
        return writer.Position;
    }

    private static void Copy(in ReadOnlySequence<byte> block, ulong removed, ref PacketWriter writer)
    {
        var reader = new PacketReader(block);
        while (!reader.End)
        {
            var start = reader.Consumed;
            var id = reader.ReadVariableByteInteger();
            if (!PropertyRules.TryGet(id > byte.MaxValue ? (byte)0 : (byte)id, out var type, out _))
            {
                MqttProtocolException.Malformed("unknown property identifier");
            }

            SkipValue(ref reader, type);
            if ((removed & (1UL << (int)id)) == 0)
            {
                writer.WriteRaw(block.Slice(start, reader.Consumed - start));
            }
        }
    }

    private static void SkipValue(ref PacketReader reader, PropertyType type)
    {
        switch (type)
        {
            case PropertyType.Byte: reader.ReadByte(); break;
            case PropertyType.TwoByteInteger: reader.ReadUInt16(); break;
            case PropertyType.FourByteInteger: reader.ReadUInt32(); break;
            case PropertyType.VariableByteInteger: reader.ReadVariableByteInteger(); break;
            case PropertyType.Utf8String or PropertyType.BinaryData: reader.ReadBinary(); break;
            default:
                reader.ReadBinary();
                reader.ReadBinary();
                break;
        }
    }
}
