using System.Buffers;
using IoTHub.Mqtt.Tests.Support;
using static IoTHub.Mqtt.Tests.Support.Codec;

namespace IoTHub.Mqtt.Tests;

/// <summary>PUBLISH rules (3.1.1 §3.3, 5.0 §3.3).</summary>
public sealed class PublishRulesTests
{
    private const MqttProtocolVersion V311 = MqttProtocolVersion.V311;
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    private static byte[] V5Publish(byte[] properties, string topic = "t") => Raw(0x32, [.. Str(topic), 0, 1, (byte)properties.Length, .. properties]);

    // [MQTT-3.3.1-4]: QoS 3 is malformed.
    [Theory]
    [InlineData(V311)]
    [InlineData(V5)]
    public void Qos_3_is_malformed(MqttProtocolVersion version)
    {
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(0x36, [.. Str("t"), 0, 1, 0]), version).ReasonCode);
    }

    // [MQTT-3.3.1-2]: DUP is 0 for QoS 0.
    [Theory]
    [InlineData(V311)]
    [InlineData(V5)]
    public void Dup_on_qos_0_is_malformed(MqttProtocolVersion version)
    {
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(0x38, [.. Str("t"), 0]), version).ReasonCode);
    }

    // 3.1.1 [MQTT-2.3.1-1], 5.0 [MQTT-2.2.1-3]: QoS 1 and 2 carry a non-zero packet identifier.
    [Theory]
    [InlineData(V311, 0x32)]
    [InlineData(V311, 0x34)]
    [InlineData(V5, 0x32)]
    [InlineData(V5, 0x34)]
    public void Zero_packet_id_is_malformed(MqttProtocolVersion version, byte header)
    {
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(header, [.. Str("t"), 0, 0, 0]), version).ReasonCode);
    }

    // [MQTT-3.3.2-2] [MQTT-4.7.0-1]: a topic name holds no wildcard.
    [Theory]
    [InlineData("a/+", V311)]
    [InlineData("#", V311)]
    [InlineData("a/b#", V5)]
    [InlineData("+", V5)]
    public void Wildcard_in_topic_name_is_refused(string topic, MqttProtocolVersion version)
    {
        var properties = version == V5 ? new byte[] { 0 } : [];
        Assert.Equal(ReasonCode.TopicNameInvalid, DecodeMalformed(Raw(0x30, [.. Str(topic), .. properties]), version).ReasonCode);
    }

    // 3.1.1 [MQTT-4.7.3-1]: topics are at least one character. 5.0 §3.3.2.1: empty only with a Topic Alias.
    [Fact]
    public void Empty_topic_needs_a_topic_alias()
    {
        Assert.Equal(ReasonCode.ProtocolError, DecodeMalformed(Raw(0x30, 0, 0), V311).ReasonCode);
        Assert.Equal(ReasonCode.ProtocolError, DecodeMalformed(Raw(0x30, 0, 0, 0), V5).ReasonCode);

        var aliased = DecodeOne(Raw(0x30, [0, 0, 3, 0x23, 0, 7, .. "x"u8]), V5).Publish;
        Assert.Equal(7, aliased.Summary.TopicAlias);
        Assert.True(aliased.Topic.IsEmpty);
    }

    // [MQTT-1.5.4-1] [MQTT-1.5.4-2] and [MQTT-3.3.2-1]: the topic is a valid UTF-8 string.
    [Theory]
    [InlineData(V311)]
    [InlineData(V5)]
    public void Topic_with_bad_utf8_is_malformed(MqttProtocolVersion version)
    {
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(0x30, 0, 2, 0xC3, 0x28, 0), version).ReasonCode);
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(0x30, 0, 2, (byte)'a', 0x00, 0), version).ReasonCode);
    }

    [Theory]
    [InlineData(V311)]
    [InlineData(V5)]
    public void Topic_longer_than_the_packet_is_malformed(MqttProtocolVersion version)
    {
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(0x30, 0, 9, (byte)'a'), version).ReasonCode);
    }

    [Fact]
    public void Payload_may_be_empty_and_may_hold_anything()
    {
        var empty = DecodeOne(Raw(0x30, Str("t")), V311).Publish;
        Assert.True(empty.Payload.IsEmpty);

        var binary = DecodeOne(Raw(0x30, [.. Str("t"), 0x00, 0xFF, 0xC3]), V311).Publish;
        Assert.Equal([0x00, 0xFF, 0xC3], binary.Payload.ToArray());
    }

    // [MQTT-3.3.2-8]: Topic Alias 0 is refused with 0x94.
    [Fact]
    public void Topic_alias_0_is_invalid()
    {
        Assert.Equal(ReasonCode.TopicAliasInvalid, DecodeMalformed(V5Publish([0x23, 0, 0]), V5).ReasonCode);
    }

    [Fact]
    public void Publish_property_rules_are_enforced()
    {
        // Session Expiry Interval is not a PUBLISH property: malformed (§2.2.2.2).
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(V5Publish([0x11, 0, 0, 0, 1]), V5).ReasonCode);

        // An identifier the specification does not define.
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(V5Publish([0x7F, 0]), V5).ReasonCode);

        // Content Type twice, Message Expiry Interval twice: protocol errors.
        Assert.Equal(ReasonCode.ProtocolError, DecodeMalformed(V5Publish([0x03, 0, 1, (byte)'a', 0x03, 0, 1, (byte)'b']), V5).ReasonCode);
        Assert.Equal(ReasonCode.ProtocolError, DecodeMalformed(V5Publish([0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 1]), V5).ReasonCode);

        // Payload Format Indicator other than 0 or 1.
        Assert.Equal(ReasonCode.ProtocolError, DecodeMalformed(V5Publish([0x01, 2]), V5).ReasonCode);

        // Subscription Identifier of 0.
        Assert.Equal(ReasonCode.ProtocolError, DecodeMalformed(V5Publish([0x0B, 0]), V5).ReasonCode);

        // [MQTT-3.3.2-14] Response Topic with a wildcard.
        Assert.Equal(ReasonCode.ProtocolError, DecodeMalformed(V5Publish([0x08, .. Str("r/#")]), V5).ReasonCode);

        // [MQTT-1.5.7-1] User Property with a bad UTF-8 name.
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(V5Publish([0x26, 0, 1, 0xFF, 0, 0]), V5).ReasonCode);

        // [MQTT-1.5.5-1] a variable byte integer not in its minimal form.
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(V5Publish([0x0B, 0x81, 0x00]), V5).ReasonCode);
    }

    [Fact]
    public void Property_length_beyond_the_packet_is_malformed()
    {
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(0x30, [.. Str("t"), 9, 0x01, 1]), V5).ReasonCode);

        // A property whose value runs past the block.
        Assert.Equal(ReasonCode.MalformedPacket, DecodeMalformed(Raw(0x30, [.. Str("t"), 2, 0x02, 0, 0, 0, 0]), V5).ReasonCode);
    }

    // §3.3.2.3.4 and §3.3.2.3.8: User Property and (from the server) Subscription Identifier may repeat; order is kept.
    [Fact]
    public void User_properties_and_subscription_identifiers_may_repeat()
    {
        byte[] properties = [0x26, .. Str("k"), .. Str("1"), 0x0B, 3, 0x26, .. Str("k"), .. Str("2"), 0x0B, 0x80, 0x01];
        var publish = DecodeOne(V5Publish(properties), V5).Publish;
        var read = publish.ReadProperties();

        Assert.Equal([new UserProperty("k", "1"), new UserProperty("k", "2")], read.UserProperties);
        Assert.Equal([3u, 128u], read.SubscriptionIdentifiers);
        Assert.True(publish.Summary.HasSubscriptionIdentifiers);
    }

    [Fact]
    public void Properties_are_not_read_in_311()
    {
        // In 3.1.1 the byte after the packet identifier is payload, whatever it looks like.
        var publish = DecodeOne(Raw(0x32, [.. Str("t"), 0, 1, 0x23, 0, 0]), V311).Publish;
        Assert.Equal([0x23, 0, 0], publish.Payload.ToArray());
    }
}
