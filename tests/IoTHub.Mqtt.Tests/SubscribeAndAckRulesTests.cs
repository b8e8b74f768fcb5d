using IoTHub.Mqtt.Tests.Support;
using static IoTHub.Mqtt.Tests.Support.Codec;

namespace IoTHub.Mqtt.Tests;

/// <summary>SUBSCRIBE, UNSUBSCRIBE, their acknowledgements, the publish acknowledgements, CONNACK, DISCONNECT and AUTH.</summary>
public sealed class SubscribeAndAckRulesTests
{
    private const MqttProtocolVersion V311 = MqttProtocolVersion.V311;
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    private static ReasonCode Refused(MqttProtocolVersion version, byte header, params byte[] body) => DecodeMalformed(Raw(header, body), version).ReasonCode;

    // [MQTT-3.8.3-3]: SUBSCRIBE holds at least one topic filter; [MQTT-3.10.3-2] so does UNSUBSCRIBE.
    [Fact]
    public void Subscribe_and_unsubscribe_without_filters_are_protocol_errors()
    {
        Assert.Equal(ReasonCode.ProtocolError, Refused(V311, 0x82, 0, 1));
        Assert.Equal(ReasonCode.ProtocolError, Refused(V5, 0x82, 0, 1, 0));
        Assert.Equal(ReasonCode.ProtocolError, Refused(V311, 0xA2, 0, 1));
        Assert.Equal(ReasonCode.ProtocolError, Refused(V5, 0xA2, 0, 1, 0));
    }

    // [MQTT-4.7.3-1] (both versions): a topic filter is at least one character long; an empty one is malformed.
    [Fact]
    public void Subscribe_and_unsubscribe_with_an_empty_filter_are_malformed()
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, 0x82, [0, 1, .. Str(""), 0]));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0x82, [0, 1, 0, .. Str("a"), 0, .. Str(""), 0]));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, 0xA2, [0, 1, .. Str("a"), .. Str("")]));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0xA2, [0, 1, 0, .. Str("")]));
    }

    // 3.1.1 [MQTT-3-8.3-4]: reserved option bits or QoS 3 are malformed.
    [Theory]
    [InlineData(0b0000_0011)]
    [InlineData(0b0000_0100)]
    [InlineData(0b1000_0000)]
    public void Subscribe_options_311_reserved_bits_are_malformed(byte options)
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, 0x82, [0, 1, .. Str("a"), options]));
    }

    // 5.0 [MQTT-3.8.3-5]: bits 6 and 7 are reserved; QoS 3 is malformed; Retain Handling 3 is a protocol error.
    [Fact]
    public void Subscribe_options_5_are_checked()
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0x82, [0, 1, 0, .. Str("a"), 0b0100_0000]));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0x82, [0, 1, 0, .. Str("a"), 0b0000_0011]));
        Assert.Equal(ReasonCode.ProtocolError, Refused(V5, 0x82, [0, 1, 0, .. Str("a"), 0b0011_0000]));

        var packet = (SubscribePacket)DecodeOne(Raw(0x82, [0, 1, 0, .. Str("a"), 0b0010_1110]), V5).Control!;
        Assert.Equal(new SubscriptionOptions(QualityOfService.ExactlyOnce, true, true, RetainHandling.DoNotSend), packet.Subscriptions[0].Options);
    }

    // 5.0 [MQTT-3.8.3-4]: No Local on a shared subscription is a protocol error.
    [Fact]
    public void No_local_on_a_shared_subscription_is_a_protocol_error()
    {
        Assert.Equal(ReasonCode.ProtocolError, Refused(V5, 0x82, [0, 1, 0, .. Str("$share/g/a"), 0b0000_0100]));
    }

    [Fact]
    public void Subscribe_properties_are_checked()
    {
        // Subscription Identifier appears at most once in SUBSCRIBE and is not 0.
        Assert.Equal(ReasonCode.ProtocolError, Refused(V5, 0x82, [0, 1, 4, 0x0B, 1, 0x0B, 2, .. Str("a"), 0]));
        Assert.Equal(ReasonCode.ProtocolError, Refused(V5, 0x82, [0, 1, 2, 0x0B, 0, .. Str("a"), 0]));

        // Topic Alias does not belong in SUBSCRIBE.
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0x82, [0, 1, 3, 0x23, 0, 1, .. Str("a"), 0]));
    }

    [Fact]
    public void Subscribe_filter_must_be_valid_utf8_but_its_wildcards_are_checked_by_the_broker()
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, 0x82, [0, 1, 0, 1, 0xFF, 0]));

        // 5.0 answers a bad filter with SUBACK 0x8F for that filter only, so the packet itself decodes.
        var packet = (SubscribePacket)DecodeOne(Raw(0x82, [0, 1, 0, .. Str("a/#/b"), 0, .. Str("ok/+"), 1]), V5).Control!;
        Assert.False(TopicRules.IsValidTopicFilter(packet.Subscriptions[0].TopicFilter));
        Assert.True(TopicRules.IsValidTopicFilter(packet.Subscriptions[1].TopicFilter));
    }

    // 3.1.1 [MQTT-2.3.1-1], 5.0 [MQTT-2.2.1-3]: packet identifiers are non-zero.
    [Theory]
    [InlineData(0x82)]
    [InlineData(0xA2)]
    [InlineData(0x40)]
    [InlineData(0x50)]
    [InlineData(0x62)]
    [InlineData(0x70)]
    [InlineData(0x90)]
    [InlineData(0xB0)]
    public void Zero_packet_identifier_is_malformed(byte header)
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, header, [0, 0, .. Str("a"), 0]));
    }

    [Theory]
    [InlineData(0x40)]
    [InlineData(0x50)]
    [InlineData(0x62)]
    [InlineData(0x70)]
    [InlineData(0xB0)]
    public void Acks_311_are_exactly_two_bytes(byte header)
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, header, 0, 1, 0));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, header, 0));
    }

    // 5.0 [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1]: each ack uses its own reason codes.
    [Theory]
    [InlineData(0x40, 0x92)]
    [InlineData(0x40, 0x8E)]
    [InlineData(0x50, 0x01)]
    [InlineData(0x62, 0x10)]
    [InlineData(0x62, 0x80)]
    [InlineData(0x70, 0x87)]
    public void Ack_reason_code_not_in_its_table_is_malformed(byte header, byte reason)
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, header, 0, 1, reason));
    }

    [Fact]
    public void Ack_properties_are_checked()
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0x40, 0, 1, 0, 3, 0x23, 0, 1));
        Assert.Equal(ReasonCode.ProtocolError, Refused(V5, 0x40, 0, 1, 0, 6, 0x1F, 0, 0, 0x1F, 0, 0));

        var ack = DecodeOne(Raw(0x40, [0, 1, 0x10, 5, 0x1F, .. Str("no")]), V5).Ack;
        Assert.Equal(ReasonCode.NoMatchingSubscribers, ack.ReasonCode);
        Assert.Equal("no", ack.Properties!.ReasonString);
    }

    // 3.1.1 §3.9.3: SUBACK return codes are 0x00, 0x01, 0x02 and 0x80; 5.0 [MQTT-3.9.3-2] has its own table.
    [Fact]
    public void Suback_codes_are_checked()
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, 0x90, 0, 1, 0x03));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, 0x90, 0, 1, 0x87));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0x90, 0, 1, 0, 0x8E));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0x90, 0, 1, 0));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0xB0, 0, 1, 0, 0x02));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0xB0, 0, 1, 0));
    }

    // 3.1.1 [MQTT-3.2.2-1] / 5.0 §3.2.2.1: reserved acknowledge flags; return codes above 5 are reserved in 3.1.1.
    [Fact]
    public void Connack_rules_are_checked()
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, 0x20, 0b10, 0));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, 0x20, 0, 6));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0x20, 0, 0x8E, 0));

        // 3.1.1 [MQTT-3.2.2-4], 5.0 [MQTT-3.2.2-6]: a refusal never says a session is present.
        Assert.Equal(ReasonCode.ProtocolError, Refused(V311, 0x20, 1, 5));
        Assert.Equal(ReasonCode.ProtocolError, Refused(V5, 0x20, 1, 0x87, 0));

        // Assigned Client Identifier belongs in CONNACK only; Will Delay Interval never does.
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0x20, 0, 0, 5, 0x18, 0, 0, 0, 1));
    }

    // 3.1.1 §3.14: DISCONNECT has no variable header. 5.0 §3.14.2: reason codes and properties per its table.
    [Fact]
    public void Disconnect_rules_are_checked()
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V311, 0xE0, 0));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0xE0, 0x05));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0xE0, 0x00, 5, 0x18, 0, 0, 0, 1));

        var disconnect = (DisconnectPacket)DecodeOne(Raw(0xE0, 0x04), V5).Control!;
        Assert.Equal(ReasonCode.DisconnectWithWillMessage, disconnect.ReasonCode);
    }

    // 5.0 [MQTT-3.15.2-1]: AUTH uses 0x00, 0x18 or 0x19.
    [Fact]
    public void Auth_rules_are_checked()
    {
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0xF0, 0x01));
        Assert.Equal(ReasonCode.MalformedPacket, Refused(V5, 0xF0, 0x18, 3, 0x21, 0, 1));

        var auth = (AuthPacket)DecodeOne(Raw(0xF0), V5).Control!;
        Assert.Equal(ReasonCode.Success, auth.ReasonCode);
    }
}
