using System.Buffers;
using IoTHub.Mqtt.Tests.Support;
using static IoTHub.Mqtt.Tests.Support.Codec;

namespace IoTHub.Mqtt.Tests;

/// <summary>Framing: packet type, reserved flags, remaining length, maximum packet size.</summary>
public sealed class FixedHeaderTests
{
    private const MqttProtocolVersion V311 = MqttProtocolVersion.V311;
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    [Theory]
    [InlineData(V311)]
    [InlineData(V5)]
    public void Empty_and_partial_headers_need_more_data(MqttProtocolVersion version)
    {
        foreach (var bytes in new byte[][] { [], [0x30], [0x30, 0x80], [0x30, 0x80, 0x80], [0x30, 0x80, 0x80, 0x80] })
        {
            var sequence = new ReadOnlySequence<byte>(bytes);
            Assert.Equal(DecodeStatus.NeedMoreData, MqttDecoder.TryDecode(ref sequence, version, NoLimit, out _, out _));
        }
    }

    // 3.1.1 §2.2.3 / 5.0 §1.5.5 [MQTT-1.5.5-1]: the Remaining Length is at most four bytes.
    [Theory]
    [InlineData(V311)]
    [InlineData(V5)]
    public void Remaining_length_of_five_bytes_is_malformed(MqttProtocolVersion version)
    {
        var error = DecodeMalformed([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], version);
        Assert.Equal(ReasonCode.MalformedPacket, error.ReasonCode);
    }

    // [MQTT-1.5.5-1]: the remaining length uses the fewest bytes that hold it.
    [Theory]
    [InlineData(V311)]
    [InlineData(V5)]
    public void Remaining_length_not_in_its_minimal_form_is_malformed(MqttProtocolVersion version)
    {
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed([0xC0, 0x80, 0x00], version).ReasonCode);
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed([0x30, 0x81, 0x80, 0x00], version).ReasonCode);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(127u)]
    [InlineData(128u)]
    [InlineData(16_383u)]
    [InlineData(16_384u)]
    [InlineData(2_097_151u)]
    [InlineData(2_097_152u)]
    [InlineData(268_435_455u)]
    public void Every_remaining_length_size_is_read(uint remaining)
    {
        var header = new byte[5];
        header[0] = 0x30;
        var length = 1 + VariableByteInteger.Write(header.AsSpan(1), remaining);
        Assert.Equal(VariableByteInteger.SizeOf(remaining), length - 1);

        // The header alone: the decoder knows the packet's size before its body arrives.
        var sequence = new ReadOnlySequence<byte>(header, 0, length);
        var tooSmall = (int)Math.Min(int.MaxValue, length + remaining - 1);
        if (remaining > 0)
        {
            var error = DecodeMalformed(header.AsSpan(0, length).ToArray(), V311, tooSmall);
            Assert.Equal(ReasonCode.PacketTooLarge, error.ReasonCode);
            Assert.Equal(DecodeStatus.NeedMoreData, MqttDecoder.TryDecode(ref sequence, V311, NoLimit, out _, out _));
        }
    }

    // 5.0 §3.1.2.11.4 / §4.13: a packet above the Maximum Packet Size is refused with 0x95 before its body is buffered.
    [Fact]
    public void Oversized_packet_is_refused_from_its_header_alone()
    {
        // A PUBLISH announcing 2 MB, of which only the fixed header has arrived.
        var error = DecodeMalformed([0x30, 0x80, 0x80, 0x80, 0x01], V5, maximumPacketSize: 1024);

        Assert.Equal(ReasonCode.PacketTooLarge, error.ReasonCode);
    }

    [Fact]
    public void Packet_of_exactly_the_maximum_size_is_accepted()
    {
        var bytes = Raw(0x30, [.. Str("t"), .. new byte[100]]);
        var sequence = new ReadOnlySequence<byte>(bytes);

        Assert.Equal(DecodeStatus.Packet, MqttDecoder.TryDecode(ref sequence, V311, bytes.Length, out _, out _));
        Assert.Equal(ReasonCode.PacketTooLarge, DecodeMalformed(bytes, V311, bytes.Length - 1).ReasonCode);
    }

    // 3.1.1 §2.2.1 and 5.0 §2.1.2: type 0 is reserved; 15 is reserved in 3.1.1 and AUTH in 5.0.
    [Theory]
    [InlineData(0x00, V311)]
    [InlineData(0x00, V5)]
    [InlineData(0xF0, V311)]
    [InlineData(0xF0, MqttProtocolVersion.V310)]
    public void Reserved_packet_types_are_malformed(byte header, MqttProtocolVersion version)
    {
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(header), version).ReasonCode);
    }

    // 5.0 [MQTT-2.1.3-1], 3.1.1 [MQTT-2.2.2-1] [MQTT-2.2.2-2]: reserved flag bits must hold their fixed values.
    [Theory]
    [InlineData(0x11)]
    [InlineData(0x21)]
    [InlineData(0x42)]
    [InlineData(0x58)]
    [InlineData(0x60)]
    [InlineData(0x63)]
    [InlineData(0x71)]
    [InlineData(0x80)]
    [InlineData(0x8A)]
    [InlineData(0x94)]
    [InlineData(0xA0)]
    [InlineData(0xB2)]
    [InlineData(0xC1)]
    [InlineData(0xD4)]
    [InlineData(0xE8)]
    public void Wrong_reserved_flags_are_malformed(byte header)
    {
        foreach (var version in new[] { V311, V5 })
        {
            // A body that would be valid with the right flags, so only the flags are wrong.
            Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(header, 0, 1), version).ReasonCode);
        }

        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(0xF1), V5).ReasonCode);
    }

    // [MQTT-3.1.0-1]: the first packet a client sends is CONNECT.
    [Theory]
    [InlineData(0x30)]
    [InlineData(0xC0)]
    [InlineData(0xE0)]
    public void Before_connect_only_connect_is_accepted(byte header)
    {
        var body = header == 0x30 ? Str("t") : [];
        var error = DecodeMalformed(Raw(header, body), MqttProtocolVersion.Unknown);
        Assert.Equal(ReasonCode.ProtocolError, error.ReasonCode);
    }

    [Theory]
    [InlineData(V311)]
    [InlineData(V5)]
    public void Ping_with_a_body_is_malformed(MqttProtocolVersion version)
    {
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(0xC0, 0), version).ReasonCode);
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(0xD0, 0), version).ReasonCode);
    }

    [Fact]
    public void A_malformed_packet_after_a_good_one_leaves_the_good_one_decoded()
    {
        byte[] bytes = [0xC0, 0x00, 0xC0, 0x01, 0x00];
        var sequence = new ReadOnlySequence<byte>(bytes);

        Assert.Equal(DecodeStatus.Packet, MqttDecoder.TryDecode(ref sequence, V311, NoLimit, out var first, out _));
        Assert.Equal(PacketType.PingReq, first.Type);
        Assert.Equal(DecodeStatus.Malformed, MqttDecoder.TryDecode(ref sequence, V311, NoLimit, out _, out _));
        Assert.Equal(3, sequence.Length);
    }
}
