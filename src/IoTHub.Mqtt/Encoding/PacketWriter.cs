using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace IoTHub.Mqtt;

/// <summary>
/// Writes packet fields into a span, or only counts their bytes: the encoder runs the same code
/// once to measure a packet and once to write it, so size and content can never disagree.
/// </summary>
internal ref struct PacketWriter
{
    private readonly Span<byte> _buffer;
    private readonly bool _measuring;

    private PacketWriter(Span<byte> buffer, bool measuring)
    {
        _buffer = buffer;
        _measuring = measuring;
        Position = 0;
    }

    public int Position { get; private set; }

    public static PacketWriter Measure() => new(default, measuring: true);

    public static PacketWriter Into(Span<byte> buffer) => new(buffer, measuring: false);

    public void WriteByte(byte value)
    {
        if (!_measuring)
        {
            _buffer[Position] = value;
        }

        Position++;
    }

    public void WriteUInt16(ushort value)
    {
        if (!_measuring)
        {
            BinaryPrimitives.WriteUInt16BigEndian(_buffer[Position..], value);
        }

        Position += 2;
    }

    public void WriteUInt32(uint value)
    {
        if (!_measuring)
        {
            BinaryPrimitives.WriteUInt32BigEndian(_buffer[Position..], value);
        }

        Position += 4;
    }

    public void WriteVariableByteInteger(uint value)
    {
        Position += _measuring
            ? VariableByteInteger.SizeOf(value)
            : VariableByteInteger.Write(_buffer[Position..], value);
    }

    /// <summary>Two byte length then the UTF-8 bytes of <paramref name="value"/>.</summary>
    public void WriteString(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        CheckFieldLength(length);
        WriteUInt16((ushort)length);
        if (!_measuring)
        {
            Encoding.UTF8.GetBytes(value, _buffer[Position..]);
        }

        Position += length;
    }

    /// <summary>Two byte length then the bytes.</summary>
    public void WriteBinary(ReadOnlySpan<byte> value)
    {
        CheckFieldLength(value.Length);
        WriteUInt16((ushort)value.Length);
        WriteRaw(value);
    }

    /// <summary>Two byte length then the bytes.</summary>
    public void WriteBinary(in ReadOnlySequence<byte> value)
    {
        CheckFieldLength(value.Length);
        WriteUInt16((ushort)value.Length);
        WriteRaw(value);
    }

    public void WriteRaw(ReadOnlySpan<byte> value)
    {
        if (!_measuring)
        {
            value.CopyTo(_buffer[Position..]);
        }

        Position += value.Length;
    }

    public void WriteRaw(in ReadOnlySequence<byte> value)
    {
        if (!_measuring)
        {
            value.CopyTo(_buffer[Position..]);
        }

        Position += (int)value.Length;
    }

    private static void CheckFieldLength(long length)
    {
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException("A string or binary field holds at most 65535 bytes.");
        }
    }
}
