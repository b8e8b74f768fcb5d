using System.Buffers;

namespace IoTHub.Mqtt.Tests.Support;

/// <summary>Short ways to encode and decode in tests.</summary>
internal static class Codec
{
    public const int NoLimit = int.MaxValue;

    public static byte[] Encode(ControlPacket packet, MqttProtocolVersion version)
    {
        var output = new ArrayBufferWriter<byte>();
        var written = MqttEncoder.Write(output, packet, version);
        Assert.Equal(written, output.WrittenCount);
        return output.WrittenSpan.ToArray();
    }

    public static byte[] Encode(in DecodedPacket packet, MqttProtocolVersion version)
    {
        var output = new ArrayBufferWriter<byte>();
        var written = MqttEncoder.Write(output, packet, version);
        Assert.Equal(written, output.WrittenCount);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Decodes exactly one packet that fills <paramref name="sequence"/>; fails the test otherwise.</summary>
    public static DecodedPacket DecodeOne(ReadOnlySequence<byte> sequence, MqttProtocolVersion version)
    {
        var status = MqttDecoder.TryDecode(ref sequence, version, NoLimit, out var packet, out var error);
        Assert.True(status == DecodeStatus.Packet, $"expected a packet, got {status}: {error}");
        Assert.Equal(0, sequence.Length);
        return packet;
    }

    public static DecodedPacket DecodeOne(byte[] bytes, MqttProtocolVersion version) =>
        DecodeOne(new ReadOnlySequence<byte>(bytes), version);

    /// <summary>Decodes <paramref name="bytes"/>, which must be refused; returns the reason.</summary>
    public static DecodeError DecodeMalformed(byte[] bytes, MqttProtocolVersion version, int maximumPacketSize = NoLimit)
    {
        var sequence = new ReadOnlySequence<byte>(bytes);
        var status = MqttDecoder.TryDecode(ref sequence, version, maximumPacketSize, out _, out var error);
        Assert.Equal(DecodeStatus.Malformed, status);
        Assert.Equal(bytes.Length, sequence.Length);
        Assert.False(string.IsNullOrEmpty(error.Message));
        return error;
    }

    public static ReadOnlySequence<byte> Bytes(string text) => new(System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Builds a raw packet from a header byte and a body, computing the remaining length.</summary>
    public static byte[] Raw(byte header, params byte[] body)
    {
        var length = new byte[4];
        var lengthSize = VariableByteInteger.Write(length, (uint)body.Length);
        return [header, .. length.AsSpan(0, lengthSize), .. body];
    }

    /// <summary>A two-byte length-prefixed UTF-8 string.</summary>
    public static byte[] Str(string text)
    {
        var utf8 = System.Text.Encoding.UTF8.GetBytes(text);
        return [(byte)(utf8.Length >> 8), (byte)utf8.Length, .. utf8];
    }
}
