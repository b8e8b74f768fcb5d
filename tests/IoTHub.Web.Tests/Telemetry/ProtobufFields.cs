namespace IoTHub.Web.Tests.Telemetry;

/// <summary>
/// A walker over the protobuf wire format, enough to read OTLP requests without their generated classes: each field of
/// a message with its number and, for the kinds OTLP uses, its value (a varint or the bytes of a length-delimited one).
/// </summary>
internal static class ProtobufFields
{
    private const int Varint = 0;
    private const int Fixed64 = 1;
    private const int LengthDelimited = 2;
    private const int Fixed32 = 5;

    /// <summary>One field: <see cref="Bytes"/> for a length-delimited one (a message, a string), <see cref="Number"/> for a varint.</summary>
    public readonly record struct Field(int Tag, ReadOnlyMemory<byte> Bytes, ulong Number)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Bytes.Span);
    }

    public static List<Field> Read(ReadOnlyMemory<byte> message)
    {
        List<Field> fields = [];
        var span = message.Span;
        var position = 0;
        while (position < span.Length)
        {
            var key = ReadVarint(span, ref position);
            var tag = (int)(key >> 3);
            switch ((int)(key & 7))
            {
                case Varint:
                    fields.Add(new Field(tag, default, ReadVarint(span, ref position)));
                    break;
                case Fixed64:
                    fields.Add(new Field(tag, message.Slice(position, 8), 0));
                    position += 8;
                    break;
                case LengthDelimited:
                    var length = checked((int)ReadVarint(span, ref position));
                    fields.Add(new Field(tag, message.Slice(position, length), 0));
                    position += length;
                    break;
                case Fixed32:
                    fields.Add(new Field(tag, message.Slice(position, 4), 0));
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"wire type {key & 7} of field {tag} at byte {position}");
            }
        }

        return fields;
    }

    /// <summary>The length-delimited fields numbered <paramref name="tag"/> (a repeated message, or one).</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> Messages(ReadOnlyMemory<byte> message, int tag) =>
        Read(message).Where(f => f.Tag == tag).Select(static f => f.Bytes);

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = span[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidDataException("varint longer than 10 bytes");
    }
}
