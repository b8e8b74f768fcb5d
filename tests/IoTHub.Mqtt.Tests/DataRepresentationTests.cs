using System.Buffers;
using System.Text;
using IoTHub.Mqtt.Tests.Support;

namespace IoTHub.Mqtt.Tests;

/// <summary>Variable byte integers (5.0 §1.5.5) and UTF-8 strings (5.0 §1.5.4, 3.1.1 §1.5.3).</summary>
public sealed class DataRepresentationTests
{
    [Theory]
    [InlineData(0u, new byte[] { 0x00 })]
    [InlineData(127u, new byte[] { 0x7F })]
    [InlineData(128u, new byte[] { 0x80, 0x01 })]
    [InlineData(16_383u, new byte[] { 0xFF, 0x7F })]
    [InlineData(16_384u, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(2_097_151u, new byte[] { 0xFF, 0xFF, 0x7F })]
    [InlineData(2_097_152u, new byte[] { 0x80, 0x80, 0x80, 0x01 })]
    [InlineData(268_435_455u, new byte[] { 0xFF, 0xFF, 0xFF, 0x7F })]
    public void Variable_byte_integers_use_the_table_encodings(uint value, byte[] expected)
    {
        var buffer = new byte[4];
        Assert.Equal(expected.Length, VariableByteInteger.Write(buffer, value));
        Assert.Equal(expected, buffer.AsSpan(0, expected.Length).ToArray());
        Assert.Equal(expected.Length, VariableByteInteger.SizeOf(value));
    }

    [Fact]
    public void Variable_byte_integer_above_the_maximum_cannot_be_written()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => VariableByteInteger.Write(new byte[5], VariableByteInteger.MaxValue + 1));
    }

    [Theory]
    [InlineData("plain ascii", true)]
    [InlineData("Grüße 東京 🚀", true)]
    [InlineData("", true)]
    public void Well_formed_strings_are_valid(string text, bool expected)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.Equal(expected, MqttUtf8.IsValid(bytes));

        // Split inside multi-byte code points: validity does not depend on segmentation.
        if (bytes.Length > 1)
        {
            Assert.Equal(expected, MqttUtf8.IsValid(Sequences.OneBytePerSegment(bytes)));
        }
    }

    // [MQTT-1.5.4-1] ill-formed, including surrogates U+D800..U+DFFF and overlong forms; [MQTT-1.5.4-2] U+0000.
    [Theory]
    [InlineData(new byte[] { 0x00 })]
    [InlineData(new byte[] { 0x61, 0x00, 0x62 })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    [InlineData(new byte[] { 0xED, 0xBF, 0xBF })]
    [InlineData(new byte[] { 0xC0, 0x80 })]
    [InlineData(new byte[] { 0xE0, 0x80, 0x80 })]
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })]
    [InlineData(new byte[] { 0x80 })]
    [InlineData(new byte[] { 0xE2, 0x82 })]
    public void Ill_formed_or_null_strings_are_invalid(byte[] bytes)
    {
        Assert.False(MqttUtf8.IsValid(bytes));
        Assert.False(MqttUtf8.IsValid(Sequences.OneBytePerSegment(bytes)));
    }

    // §1.5.4: U+0001..U+001F and U+007F..U+009F are the control characters strings SHOULD NOT hold; the ends of both
    // ranges count, their neighbours (U+0000 is malformed anyway, U+0020, U+007E, U+00A0) do not.
    [Theory]
    [InlineData("\u0001", true)]
    [InlineData("a\u001Fb", true)]
    [InlineData("\u007F", true)]
    [InlineData("x\u009F", true)]
    [InlineData("\t", true)]
    [InlineData(" ~\u00A0Grüße", false)]
    [InlineData("", false)]
    public void Control_characters_are_found(string text, bool expected)
    {
        Assert.Equal(expected, MqttUtf8.ContainsControlCharacter(text));
    }

    [Fact]
    public void Long_multi_segment_strings_are_validated_whole()
    {
        var bytes = Encoding.UTF8.GetBytes(new string('ü', 2_000));
        Assert.True(MqttUtf8.IsValid(Sequences.Split(bytes, 1_001)));

        bytes[3_000] = 0;
        Assert.False(MqttUtf8.IsValid(Sequences.Split(bytes, 1_001)));
    }

    [Fact]
    public void Strings_and_binary_fields_longer_than_65535_bytes_cannot_be_encoded()
    {
        var connect = new ConnectPacket { ClientId = new string('a', 65_536) };
        Assert.Throws<ArgumentException>(() => Codec.Encode(connect, MqttProtocolVersion.V311));

        var publish = new PublishPacket(new ReadOnlySequence<byte>(new byte[65_536]), default);
        Assert.Throws<ArgumentException>(() => Codec.Encode(new DecodedPacket(publish), MqttProtocolVersion.V311));
    }
}
