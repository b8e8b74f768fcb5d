using IoTHub.Mqtt.Tests.Support;
using static IoTHub.Mqtt.Tests.Support.Codec;

namespace IoTHub.Mqtt.Tests;

/// <summary>CONNECT rules of 3.1, 3.1.1 (§3.1) and 5.0 (§3.1).</summary>
public sealed class ConnectRulesTests
{
    private static readonly byte[] NoProperties = [0];

    /// <summary>A CONNECT body: protocol name and level, flags, keep-alive 60, [properties], client id, then <paramref name="rest"/>.</summary>
    private static byte[] Connect(string name, byte level, byte flags, byte[]? properties = null, string clientId = "c", params byte[] rest) =>
        Raw(0x10, [.. Str(name), level, flags, 0, 60, .. properties ?? (level == 5 ? NoProperties : []), .. Str(clientId), .. rest]);

    private static ConnectPacket Decode(byte[] bytes) => (ConnectPacket)DecodeOne(bytes, MqttProtocolVersion.Unknown).Control!;

    private static ReasonCode Refused(byte[] bytes) => DecodeMalformed(bytes, MqttProtocolVersion.Unknown).ReasonCode;

    [Theory]
    [InlineData("MQTT", 4, MqttProtocolVersion.V311)]
    [InlineData("MQTT", 5, MqttProtocolVersion.V500)]
    [InlineData("MQIsdp", 3, MqttProtocolVersion.V310)]
    public void The_protocol_version_is_detected_from_connect(string name, byte level, MqttProtocolVersion expected)
    {
        Assert.Equal(expected, Decode(Connect(name, level, 0b10)).ProtocolVersion);
    }

    // 5.0 [MQTT-3.1.2-2], 3.1.1 [MQTT-3.1.2-2]: an unknown level of a known name is refused (CONNACK 0x84 / 0x01).
    [Theory]
    [InlineData("MQTT", 3)]
    [InlineData("MQTT", 6)]
    [InlineData("MQIsdp", 4)]
    public void Unknown_protocol_level_is_unsupported(string name, byte level)
    {
        Assert.Equal(ReasonCode.UnsupportedProtocolVersion, Refused(Connect(name, level, 0b10)));
    }

    // 5.0 [MQTT-3.1.2-1], 3.1.1 [MQTT-3.1.2-1]: an unknown protocol name is not MQTT: a protocol error (closed, no CONNACK).
    [Theory]
    [InlineData("mqtt", 4)]
    [InlineData("MQTs", 5)]
    [InlineData("MQTTX", 4)]
    [InlineData("", 5)]
    public void Unknown_protocol_name_is_a_protocol_error(string name, byte level)
    {
        Assert.Equal(ReasonCode.ProtocolError, Refused(Connect(name, level, 0b10)));
    }

    // [MQTT-3.1.2-3]: the reserved flag is zero.
    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Reserved_connect_flag_is_malformed(byte level)
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(Connect("MQTT", level, 0b11)));
    }

    // 3.1.1 [MQTT-3.1.2-13] [MQTT-3.1.2-15], 5.0 [MQTT-3.1.2-11] [MQTT-3.1.2-13]: no will means will QoS 0 and will retain 0.
    [Theory]
    [InlineData(4, 0b0000_1000)]
    [InlineData(4, 0b0010_0000)]
    [InlineData(5, 0b0001_0000)]
    [InlineData(5, 0b0010_0000)]
    public void Will_qos_or_retain_without_will_is_malformed(byte level, byte flags)
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(Connect("MQTT", level, flags)));
    }

    // 3.1.1 [MQTT-3.1.2-14], 5.0 [MQTT-3.1.2-12]: will QoS 3 is malformed.
    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Will_qos_3_is_malformed(byte level)
    {
        var willProperties = level == 5 ? NoProperties : [];
        var bytes = Connect("MQTT", level, 0b0001_1100, rest: [.. willProperties, .. Str("w"), 0, 0]);
        Assert.Equal(ReasonCode.MalformedPacket, Refused(bytes));
    }

    // 3.1.1 [MQTT-3.1.2-22]: a password needs a user name. 5.0 lifted that rule (§3.1.2.9).
    [Fact]
    public void Password_without_user_name_is_malformed_in_311_but_allowed_in_5()
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(Connect("MQTT", 4, 0b0100_0010, rest: [0, 1, 9])));

        var v5 = Decode(Connect("MQTT", 5, 0b0100_0010, rest: [0, 1, 9]));
        Assert.Null(v5.UserName);
        Assert.Equal([9], v5.Password);
    }

    // [MQTT-1.5.4-1] / 3.1.1 [MQTT-1.5.3-1]: ill-formed UTF-8 (including encoded surrogates) is malformed.
    // [MQTT-1.5.4-2] / 3.1.1 [MQTT-1.5.3-2]: U+0000 is malformed.
    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    [InlineData(new byte[] { 0xC0, 0xAF })]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { (byte)'a', 0x00 })]
    public void Client_id_breaking_utf8_rules_is_malformed(byte[] clientId)
    {
        foreach (var level in new byte[] { 4, 5 })
        {
            var properties = level == 5 ? NoProperties : [];
            var bytes = Raw(0x10, [.. Str("MQTT"), level, 0b10, 0, 60, .. properties, 0, (byte)clientId.Length, .. clientId]);
            Assert.Equal(ReasonCode.MalformedPacket, Refused(bytes));
        }
    }

    [Fact]
    public void Will_topic_with_a_wildcard_is_invalid()
    {
        Assert.Equal(ReasonCode.TopicNameInvalid, Refused(Connect("MQTT", 4, 0b0110, rest: [.. Str("a/+"), 0, 0])));
        Assert.Equal(ReasonCode.TopicNameInvalid, Refused(Connect("MQTT", 5, 0b0110, rest: [0, .. Str("a/#"), 0, 0])));
    }

    [Fact]
    public void Bytes_after_the_last_field_are_malformed()
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(Connect("MQTT", 4, 0b10, rest: [0])));
    }

    [Fact]
    public void Missing_fields_are_malformed()
    {
        // The user name flag is set but the packet ends after the client id.
        Assert.Equal(ReasonCode.MalformedPacket, Refused(Connect("MQTT", 4, 0b1000_0010)));

        // The client id length says 5 but the packet ends after 1 byte.
        Assert.Equal(ReasonCode.MalformedPacket, Refused(Raw(0x10, [.. Str("MQTT"), 4, 0b10, 0, 60, 0, 5, (byte)'a'])));

        // The packet ends inside the keep-alive.
        Assert.Equal(ReasonCode.MalformedPacket, Refused(Raw(0x10, [.. Str("MQTT"), 4, 0b10, 0])));
    }

    [Fact]
    public void Empty_client_id_is_left_to_the_broker()
    {
        // 3.1.1 [MQTT-3.1.3-7] / 5.0 §3.1.3.1: whether a zero-length id is accepted is a server decision, not a codec one.
        Assert.Equal(string.Empty, Decode(Connect("MQTT", 4, 0b10, clientId: "")).ClientId);
    }

    [Fact]
    public void Connect_properties_follow_the_property_rules()
    {
        // Topic Alias (0x23) is not a CONNECT property.
        Assert.Equal(ReasonCode.MalformedPacket, Refused(Connect("MQTT", 5, 0b10, properties: [3, 0x23, 0, 1])));

        // Session Expiry Interval twice.
        Assert.Equal(ReasonCode.ProtocolError, Refused(Connect("MQTT", 5, 0b10, properties: [10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2])));

        // Receive Maximum 0, Maximum Packet Size 0, Request Problem Information 2.
        Assert.Equal(ReasonCode.ProtocolError, Refused(Connect("MQTT", 5, 0b10, properties: [3, 0x21, 0, 0])));
        Assert.Equal(ReasonCode.ProtocolError, Refused(Connect("MQTT", 5, 0b10, properties: [5, 0x27, 0, 0, 0, 0])));
        Assert.Equal(ReasonCode.ProtocolError, Refused(Connect("MQTT", 5, 0b10, properties: [2, 0x17, 2])));
        Assert.Equal(ReasonCode.ProtocolError, Refused(Connect("MQTT", 5, 0b10, properties: [2, 0x19, 2])));
    }

    [Fact]
    public void Will_properties_accept_only_will_properties()
    {
        // Will Delay Interval belongs to the will: accepted there...
        var accepted = Decode(Connect("MQTT", 5, 0b0110, rest: [5, 0x18, 0, 0, 0, 9, .. Str("w"), 0, 0]));
        Assert.Equal(9u, accepted.Will!.Properties!.WillDelayInterval);

        // ...and refused among the CONNECT properties.
        Assert.Equal(ReasonCode.MalformedPacket, Refused(Connect("MQTT", 5, 0b10, properties: [5, 0x18, 0, 0, 0, 9])));

        // Session Expiry Interval is not a will property.
        Assert.Equal(ReasonCode.MalformedPacket, Refused(Connect("MQTT", 5, 0b0110, rest: [5, 0x11, 0, 0, 0, 9, .. Str("w"), 0, 0])));
    }
}
