using System.Buffers;
using System.Text;

namespace IoTHub.Mqtt;

/// <summary>
/// Reads the fields of one packet body in place. Every read past the end of the body, or of a
/// value that breaks the data representation rules (MQTT 5.0 §1.5), throws
/// <see cref="MqttProtocolException"/> with Malformed Packet.
/// </summary>
internal ref struct PacketReader
{
    private SequenceReader<byte> _reader;

    public PacketReader(in ReadOnlySequence<byte> body)
    {
        _reader = new SequenceReader<byte>(body);
    }

    public readonly long Remaining => _reader.Remaining;

    public readonly bool End => _reader.End;

    public readonly long Consumed => _reader.Consumed;

    public byte ReadByte()
    {
        if (!_reader.TryRead(out var value))
        {
            MqttProtocolException.Malformed("packet ends inside a byte field");
        }

        return value;
    }

    public ushort ReadUInt16()
    {
        if (!_reader.TryReadBigEndian(out short value))
        {
            MqttProtocolException.Malformed("packet ends inside a two byte integer");
        }

        return (ushort)value;
    }

    public uint ReadUInt32()
    {
        if (!_reader.TryReadBigEndian(out int value))
        {
            MqttProtocolException.Malformed("packet ends inside a four byte integer");
        }

        return (uint)value;
    }

    /// <summary>A variable byte integer in its minimal encoding [MQTT-1.5.5-1].</summary>
    public uint ReadVariableByteInteger()
    {
        uint value = 0;
        for (var i = 0; i < 4; i++)
        {
            var b = ReadByte();
            value |= (uint)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                if (i > 0 && b == 0)
                {
                    MqttProtocolException.Malformed("variable byte integer is not in its minimal encoding");
                }

                return value;
            }
        }

        MqttProtocolException.Malformed("variable byte integer longer than four bytes");
        return 0;
    }

    /// <summary>Two byte length followed by that many bytes, left in place.</summary>
    public ReadOnlySequence<byte> ReadBinary()
    {
        var length = ReadUInt16();
        return ReadSlice(length);
    }

    /// <summary>A UTF-8 Encoded String, validated and left in place.</summary>
    public ReadOnlySequence<byte> ReadUtf8()
    {
        var slice = ReadBinary();
        if (!MqttUtf8.IsValid(slice))
        {
            MqttProtocolException.Malformed("UTF-8 string is ill-formed or contains U+0000");
        }

        return slice;
    }

    public string ReadString() => Encoding.UTF8.GetString(ReadUtf8());

    public byte[] ReadBinaryArray() => ReadBinary().ToArray();

    public ReadOnlySequence<byte> ReadSlice(long length)
    {
        if (_reader.Remaining < length)
        {
            MqttProtocolException.Malformed("packet ends inside a field");
        }

        var slice = _reader.UnreadSequence.Slice(0, length);
        _reader.Advance(length);
        return slice;
    }

    public ReadOnlySequence<byte> ReadToEnd() => ReadSlice(_reader.Remaining);

    public readonly void ExpectEnd()
    {
        if (!_reader.End)
        {
            MqttProtocolException.Malformed("unexpected bytes after the end of the packet");
        }
    }
}
