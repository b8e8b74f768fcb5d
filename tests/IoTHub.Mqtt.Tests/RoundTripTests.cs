using System.Buffers;
using IoTHub.Mqtt.Tests.Support;

namespace IoTHub.Mqtt.Tests;

/// <summary>Every packet type of 3.1, 3.1.1 and 5.0 survives encode then decode, however the bytes arrive.</summary>
public sealed class RoundTripTests
{
    public static TheoryData<string, MqttProtocolVersion> Samples()
    {
        var data = new TheoryData<string, MqttProtocolVersion>();
        foreach (var (name, version, _) in SamplePackets.All())
        {
            data.Add(name, version);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Decoding_an_encoded_packet_gives_back_the_same_bytes(string name, MqttProtocolVersion version)
    {
        var original = Sample(name, version);
        var bytes = Codec.Encode(original, version);

        var decoded = Codec.DecodeOne(bytes, version);

        Assert.Equal(original.Type, decoded.Type);
        Assert.Equal(bytes, Codec.Encode(decoded, version));
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_split_point_and_one_byte_segments_decode_alike(string name, MqttProtocolVersion version)
    {
        var bytes = Codec.Encode(Sample(name, version), version);
        Assert.True(bytes.Length <= 2048, "samples stay small enough to try every offset");

        for (var cut = 1; cut < bytes.Length; cut++)
        {
            var decoded = Codec.DecodeOne(Sequences.Split(bytes, cut), version);
            Assert.Equal(bytes, Codec.Encode(decoded, version));
        }

        for (var first = 1; first < bytes.Length - 1; first += 7)
        {
            var decoded = Codec.DecodeOne(Sequences.Split(bytes, first, first + 1 + ((bytes.Length - first - 1) / 2)), version);
            Assert.Equal(bytes, Codec.Encode(decoded, version));
        }

        var byteByByte = Codec.DecodeOne(Sequences.OneBytePerSegment(bytes), version);
        Assert.Equal(bytes, Codec.Encode(byteByByte, version));
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_prefix_asks_for_more_data_and_consumes_nothing(string name, MqttProtocolVersion version)
    {
        var bytes = Codec.Encode(Sample(name, version), version);
        for (var length = 0; length < bytes.Length; length++)
        {
            var sequence = Sequences.Split(bytes.AsSpan(0, length).ToArray(), length / 2 is var half && half > 0 && half < length ? [half] : []);
            var status = MqttDecoder.TryDecode(ref sequence, version, Codec.NoLimit, out _, out _);
            Assert.Equal(DecodeStatus.NeedMoreData, status);
            Assert.Equal(length, sequence.Length);
        }
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public void Large_publishes_decode_at_random_split_points(MqttProtocolVersion version)
    {
        var random = new Random(20261127);
        foreach (var size in new[] { 2_100, 70_000, 300_000 })
        {
            var payload = new byte[size];
            random.NextBytes(payload);
            var properties = version == MqttProtocolVersion.V500 ? new ReadOnlySequence<byte>(SamplePackets.PublishProperties().ToBytes()) : default;
            var publish = new PublishPacket(Codec.Bytes("large/payload"), new ReadOnlySequence<byte>(payload), QualityOfService.AtLeastOnce, false, false, 9, properties);
            var bytes = Codec.Encode(new DecodedPacket(publish), version);

            for (var attempt = 0; attempt < 40; attempt++)
            {
                var cuts = Enumerable.Range(0, random.Next(1, 6)).Select(_ => random.Next(1, bytes.Length)).Distinct().Order().ToArray();
                var decoded = Codec.DecodeOne(Sequences.Split(bytes, cuts), version).Publish;
                Assert.Equal(payload, decoded.Payload.ToArray());
                Assert.Equal("large/payload", decoded.TopicString());
            }
        }
    }

    [Fact]
    public void Several_packets_in_one_buffer_decode_one_after_another()
    {
        var version = MqttProtocolVersion.V500;
        var packets = SamplePackets.For(version).Select(s => Codec.Encode(s.Packet, version)).ToList();
        var all = packets.SelectMany(p => p).ToArray();
        var sequence = Sequences.Split(all, all.Length / 3, 2 * all.Length / 3);

        foreach (var expected in packets)
        {
            Assert.Equal(DecodeStatus.Packet, MqttDecoder.TryDecode(ref sequence, version, Codec.NoLimit, out var packet, out _));
            Assert.Equal(expected, Codec.Encode(packet, version));
        }

        Assert.Equal(0, sequence.Length);
        Assert.Equal(DecodeStatus.NeedMoreData, MqttDecoder.TryDecode(ref sequence, version, Codec.NoLimit, out _, out _));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V310)]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public void Connect_fields_and_version_are_read_back(MqttProtocolVersion version)
    {
        var original = (ConnectPacket)Sample("CONNECT full", version).Control!;

        // The decoder does not know the version yet: CONNECT tells it.
        var decoded = (ConnectPacket)Codec.DecodeOne(Codec.Encode(original, version), MqttProtocolVersion.Unknown).Control!;

        Assert.Equal(version, decoded.ProtocolVersion);
        Assert.False(decoded.CleanStart);
        Assert.Equal(65535, decoded.KeepAlive);
        Assert.Equal("device-ÄÖ-42", decoded.ClientId);
        Assert.Equal("user", decoded.UserName);
        Assert.Equal([0, 1, 2, 255], decoded.Password);
        Assert.NotNull(decoded.Will);
        Assert.Equal("devices/42/status", decoded.Will.Topic);
        Assert.Equal("offline"u8.ToArray(), decoded.Will.Payload);
        Assert.Equal(QualityOfService.ExactlyOnce, decoded.Will.QualityOfService);
        Assert.True(decoded.Will.Retain);
        PacketAssert.PropertiesEqual(original.Properties, decoded.Properties);
        PacketAssert.PropertiesEqual(original.Will!.Properties, decoded.Will.Properties);
    }

    [Fact]
    public void Mqtt31_connect_uses_the_MQIsdp_protocol_name()
    {
        var bytes = Codec.Encode(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V310, ClientId = "old" }, MqttProtocolVersion.V310);

        Assert.Equal([0x10, 17, 0, 6, .. "MQIsdp"u8, 3, 0b10, 0, 0, 0, 3, .. "old"u8], bytes);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public void Publish_fields_are_slices_of_the_input(MqttProtocolVersion version)
    {
        var v5 = version == MqttProtocolVersion.V500;
        var properties = SamplePackets.PublishProperties();
        var publish = SamplePackets.Publish("a/b/c", "payload", QualityOfService.ExactlyOnce, 513, retain: true, dup: true, props: v5 ? properties : null);
        var bytes = Codec.Encode(new DecodedPacket(publish), version);

        var decoded = Codec.DecodeOne(bytes, version).Publish;

        Assert.Equal("a/b/c", decoded.TopicString());
        Assert.Equal("payload"u8.ToArray(), decoded.Payload.ToArray());
        Assert.Equal(QualityOfService.ExactlyOnce, decoded.QualityOfService);
        Assert.True(decoded.Retain);
        Assert.True(decoded.Duplicate);
        Assert.Equal(513, decoded.PacketId);
        Assert.Equal(MqttEncoder.MeasurePublish(decoded, version), bytes.Length);
        if (v5)
        {
            PacketAssert.PropertiesEqual(properties, decoded.ReadProperties());
            Assert.Equal(new PublishPropertySummary(5, 4_294_967_295, 0, true), decoded.Summary);
        }
        else
        {
            Assert.True(decoded.Properties.IsEmpty);
        }
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Properties_of_every_packet_survive_field_by_field(string name, MqttProtocolVersion version)
    {
        var original = Sample(name, version);
        var decoded = Codec.DecodeOne(Codec.Encode(original, version), version);

        PacketAssert.PropertiesEqual(PropertiesOf(original), PropertiesOf(decoded));
    }

    [Fact]
    public void Subscribe_options_are_read_back()
    {
        var original = (SubscribePacket)Sample("SUBSCRIBE", MqttProtocolVersion.V500).Control!;
        var decoded = (SubscribePacket)Codec.DecodeOne(Codec.Encode(original, MqttProtocolVersion.V500), MqttProtocolVersion.V500).Control!;

        Assert.Equal(original.PacketId, decoded.PacketId);
        Assert.Equal(original.Subscriptions, decoded.Subscriptions);
    }

    [Fact]
    public void Connack_return_codes_map_to_and_from_reason_codes_in_311()
    {
        foreach (ConnectReturnCode code in Enum.GetValues<ConnectReturnCode>())
        {
            var bytes = Codec.Raw(0x20, 0, (byte)code);
            var decoded = (ConnAckPacket)Codec.DecodeOne(bytes, MqttProtocolVersion.V311).Control!;
            Assert.Equal(code, ConnectReturnCodes.FromReasonCode(decoded.ReasonCode));
            Assert.Equal(bytes, Codec.Encode(decoded, MqttProtocolVersion.V311));
        }

        Assert.Equal(ConnectReturnCode.ServerUnavailable, ConnectReturnCodes.FromReasonCode(ReasonCode.ServerBusy));
        Assert.Equal(ConnectReturnCode.NotAuthorized, ConnectReturnCodes.FromReasonCode(ReasonCode.Banned));
        Assert.Equal(ConnectReturnCode.BadUserNameOrPassword, ConnectReturnCodes.FromReasonCode(ReasonCode.BadAuthenticationMethod));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, new byte[] { 0x40, 2, 0, 7 })]
    [InlineData(MqttProtocolVersion.V500, new byte[] { 0x40, 2, 0, 7 })]
    public void A_successful_ack_without_properties_uses_the_short_form(MqttProtocolVersion version, byte[] expected)
    {
        Assert.Equal(expected, Codec.Encode(new DecodedPacket(new AckPacket(PacketType.PubAck, 7)), version));
        Assert.Equal([0xE0, 0], Codec.Encode(new DisconnectPacket(), version));
    }

    [Fact]
    public void V5_ack_with_reason_only_ends_after_the_reason_code()
    {
        var bytes = Codec.Encode(new DecodedPacket(new AckPacket(PacketType.PubRec, 7, ReasonCode.NoMatchingSubscribers)), MqttProtocolVersion.V500);
        Assert.Equal([0x50, 3, 0, 7, 0x10], bytes);

        // The full form with an empty property block means the same.
        var full = Codec.DecodeOne(Codec.Raw(0x50, 0, 7, 0x10, 0), MqttProtocolVersion.V500).Ack;
        Assert.Equal(ReasonCode.NoMatchingSubscribers, full.ReasonCode);
        Assert.Null(full.Properties);
    }

    [Fact]
    public void Ping_and_disconnect_are_two_bytes()
    {
        Assert.Equal([0xC0, 0], Codec.Encode(PingReqPacket.Instance, MqttProtocolVersion.V311));
        Assert.Equal([0xD0, 0], Codec.Encode(PingRespPacket.Instance, MqttProtocolVersion.V500));
        Assert.Equal(PacketType.PingReq, Codec.DecodeOne([0xC0, 0], MqttProtocolVersion.V311).Type);
    }

    [Fact]
    public void Auth_cannot_be_encoded_for_311()
    {
        Assert.Throws<ArgumentException>(() => Codec.Encode(new AuthPacket(), MqttProtocolVersion.V311));
    }

    [Fact]
    public void Publish_with_qos_and_no_packet_id_cannot_be_encoded()
    {
        var publish = new PublishPacket(Codec.Bytes("t"), default, QualityOfService.AtLeastOnce);
        Assert.Throws<ArgumentException>(() => Codec.Encode(new DecodedPacket(publish), MqttProtocolVersion.V311));
    }

    [Fact]
    public void A_publish_with_trusted_properties_encodes_like_a_checked_one()
    {
        var properties = new ReadOnlySequence<byte>(SamplePackets.PublishProperties().ToBytes());
        var checkedPacket = new PublishPacket(Codec.Bytes("a/b"), Codec.Bytes("x"), QualityOfService.AtLeastOnce, true, false, 3, properties);
        var trusted = PublishPacket.WithTrustedProperties(Codec.Bytes("a/b"), Codec.Bytes("x"), QualityOfService.AtLeastOnce, true, false, 3, properties);

        Assert.Equal(Codec.Encode(new DecodedPacket(checkedPacket), MqttProtocolVersion.V500), Codec.Encode(new DecodedPacket(trusted), MqttProtocolVersion.V500));
        Assert.Equal(default, trusted.Summary);
    }

    [Fact]
    public void Invalid_publish_properties_are_refused_when_building_a_packet()
    {
        var wrong = new ReadOnlySequence<byte>(new MqttProperties { SessionExpiryInterval = 1 }.ToBytes());
        var ex = Assert.Throws<MqttProtocolException>(() => new PublishPacket(Codec.Bytes("t"), default, properties: wrong));
        Assert.Equal(ReasonCode.MalformedPacket, ex.ReasonCode);
    }

    private static DecodedPacket Sample(string name, MqttProtocolVersion version) =>
        SamplePackets.For(version).Single(s => s.Name == name).Packet;

    private static MqttProperties? PropertiesOf(DecodedPacket packet) => packet.Control switch
    {
        null when packet.Type == PacketType.Publish => packet.Publish.ReadProperties(),
        null => packet.Ack.Properties,
        ConnectPacket p => p.Properties,
        ConnAckPacket p => p.Properties,
        SubscribePacket p => p.Properties,
        SubAckPacket p => p.Properties,
        UnsubscribePacket p => p.Properties,
        UnsubAckPacket p => p.Properties,
        DisconnectPacket p => p.Properties,
        AuthPacket p => p.Properties,
        _ => null,
    };
}
