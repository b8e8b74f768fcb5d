using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>
/// Statements another broker's own test suite found broken (issue 14), checked with raw packets over the
/// engine's pipes, where a client library would hide what the broker sent.
/// </summary>
public sealed class ConformanceTests : IAsyncLifetime
{
    private readonly MqttBroker _broker = TestBroker.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    // [MQTT-4.7.3-1]: an empty topic filter is a malformed packet (5.0: DISCONNECT 0x81; 3.1.1: closed).
    [Theory]
    [InlineData(MqttProtocolVersion.V500, PacketType.Subscribe)]
    [InlineData(MqttProtocolVersion.V500, PacketType.Unsubscribe)]
    [InlineData(MqttProtocolVersion.V311, PacketType.Subscribe)]
    [InlineData(MqttProtocolVersion.V311, PacketType.Unsubscribe)]
    public async Task An_empty_topic_filter_closes_the_connection(MqttProtocolVersion version, PacketType type)
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "c", version);
        byte[] properties = version == MqttProtocolVersion.V500 ? [0] : [];
        await client.SendRawAsync(type == PacketType.Subscribe
            ? [0x82, (byte)(5 + properties.Length), 0, 1, .. properties, 0, 0, 0]
            : [0xA2, (byte)(4 + properties.Length), 0, 1, .. properties, 0, 0]);

        var packets = await client.DrainUntilClosedAsync();
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal(ReasonCode.MalformedPacket, Assert.IsType<DisconnectPacket>(Assert.Single(packets).Control).ReasonCode);
        }
        else
        {
            Assert.Empty(packets);
        }
    }

    // [MQTT-3.1.2-25]: a client that publishes a message larger than its own Maximum Packet Size gets its PUBACK or
    // PUBREC; only the copy for its own subscription is skipped (as the Paho 5.0 test test_maximum_packet_size does).
    [Theory]
    [InlineData(QualityOfService.AtLeastOnce)]
    [InlineData(QualityOfService.ExactlyOnce)]
    public async Task A_publisher_gets_its_acknowledgement_for_a_message_larger_than_it_accepts(QualityOfService qos)
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "small", MqttProtocolVersion.V500,
            properties: new MqttProperties { MaximumPacketSize = 64 });
        await client.SubscribeAsync("size/#", QualityOfService.ExactlyOnce);

        // Acknowledgements and deliveries may come in either order: every packet is taken as it comes.
        var topics = new List<string>();
        async Task<AckPacket> ReceiveUntilAckAsync(PacketType type)
        {
            while (true)
            {
                var packet = await client.ReceiveAsync();
                if (packet.Type == PacketType.Publish)
                {
                    topics.Add(packet.Publish!.Topic);
                    continue;
                }

                Assert.Equal(type, packet.Type);
                return packet.Ack;
            }
        }

        await client.PublishAsync("size/small", new string('.', 32));
        var big = await client.PublishAsync("size/big", new string('.', 64), qos);
        var ack = await ReceiveUntilAckAsync(qos == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec);
        Assert.Equal((big, ReasonCode.Success), (ack.PacketId, ack.ReasonCode));
        if (qos == QualityOfService.ExactlyOnce)
        {
            await client.SendAsync(new AckPacket(PacketType.PubRel, big));
            Assert.Equal(big, (await ReceiveUntilAckAsync(PacketType.PubComp)).PacketId);
        }

        await client.PublishAndWaitAsync("size/fence", "after");
        while (!topics.Contains("size/fence"))
        {
            topics.Add((await client.ExpectPublishAsync()).Topic);
        }

        Assert.Equal(["size/small", "size/fence"], topics);
    }

    // 5.0 §3.4.2.1 / §3.5.2.1: a PUBLISH that no session takes is acknowledged with 0x10 (No matching subscribers), as
    // Mosquitto does; a retained one is stored all the same. The publisher's own no-local subscription takes nothing.
    [Theory]
    [InlineData(QualityOfService.AtLeastOnce)]
    [InlineData(QualityOfService.ExactlyOnce)]
    public async Task A_v5_publish_that_no_session_takes_is_acknowledged_with_no_matching_subscribers(QualityOfService qos)
    {
        var ackType = qos == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec;
        await using var client = await PipeClient.ConnectAsync(_broker, "lonely", MqttProtocolVersion.V500);
        await client.SubscribeAsync("echo/#", options: new SubscriptionOptions(QualityOfService.AtLeastOnce, NoLocal: true));

        async Task<ReasonCode> PublishAsync(string topic, bool retain = false)
        {
            var id = await client.PublishAsync(topic, "m", qos, retain);
            var ack = await client.ExpectAckAsync(ackType);
            Assert.Equal(id, ack.PacketId);
            if (qos == QualityOfService.ExactlyOnce)
            {
                await client.SendAsync(new AckPacket(PacketType.PubRel, id));
                Assert.Equal(id, (await client.ExpectAckAsync(PacketType.PubComp)).PacketId);
            }

            return ack.ReasonCode;
        }

        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync("nobody/here"));
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync("echo/own"));
        Assert.Equal(ReasonCode.NoMatchingSubscribers, await PublishAsync("nobody/kept", retain: true));
        Assert.NotNull(_broker.Retained.Get("nobody/kept"));

        await using var listener = await PipeClient.ConnectAsync(_broker, "listener", MqttProtocolVersion.V500);
        await listener.SubscribeAsync("nobody/#");
        Assert.Equal(ReasonCode.Success, await PublishAsync("nobody/here"));
    }

    // 3.1.1 has no reason codes in acknowledgements: a PUBLISH nobody takes gets a plain PUBACK.
    [Fact]
    public async Task A_v311_publish_that_no_session_takes_gets_a_plain_acknowledgement()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "lonely311");
        var id = await client.PublishAsync("nobody/here", "m", QualityOfService.AtLeastOnce);
        var ack = await client.ExpectAckAsync(PacketType.PubAck);
        Assert.Equal((id, ReasonCode.Success), (ack.PacketId, ack.ReasonCode));
    }

    // 5.0 §1.5.4 (3.1.1 §1.5.3): strings SHOULD NOT hold the control characters U+0001..U+001F and U+007F..U+009F, and a
    // receiver MAY refuse them. A client id holding one is refused (5.0 0x85, 3.1.1 0x02); U+0000 is malformed already
    // [MQTT-1.5.4-2]; U+00A0 and a space are no control characters.
    [Theory]
    [InlineData(MqttProtocolVersion.V500, '\u0001', ReasonCode.ClientIdentifierNotValid)]
    [InlineData(MqttProtocolVersion.V500, '\u001F', ReasonCode.ClientIdentifierNotValid)]
    [InlineData(MqttProtocolVersion.V500, '\u007F', ReasonCode.ClientIdentifierNotValid)]
    [InlineData(MqttProtocolVersion.V500, '\u009F', ReasonCode.ClientIdentifierNotValid)]
    [InlineData(MqttProtocolVersion.V311, '\n', ReasonCode.ClientIdentifierNotValid)]
    [InlineData(MqttProtocolVersion.V311, '\u0085', ReasonCode.ClientIdentifierNotValid)]
    [InlineData(MqttProtocolVersion.V500, '\u00A0', ReasonCode.Success)]
    [InlineData(MqttProtocolVersion.V311, ' ', ReasonCode.Success)]
    public async Task A_client_id_with_a_control_character_is_refused(MqttProtocolVersion version, char character, ReasonCode expected)
    {
        await using var client = PipeClient.Open(_broker, version);
        var connAck = await client.ConnectRawAsync(new ConnectPacket { ProtocolVersion = version, ClientId = $"id{character}x", CleanStart = true });
        Assert.Equal(expected, connAck.ReasonCode);
    }

    // 5.0 §1.5.4: a will topic holding a control character is refused like any other will topic the broker refuses
    // (5.0 0x90 Topic Name invalid; 3.1.1, which has no such code, 0x05).
    [Theory]
    [InlineData(MqttProtocolVersion.V500, ReasonCode.TopicNameInvalid)]
    [InlineData(MqttProtocolVersion.V311, ReasonCode.NotAuthorized)]
    public async Task A_will_topic_with_a_control_character_is_refused(MqttProtocolVersion version, ReasonCode expected)
    {
        await using var client = PipeClient.Open(_broker, version);
        var connAck = await client.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = "will-control",
            CleanStart = true,
            Will = new WillMessage { Topic = "wills/\u001Bgone", Payload = [1] },
        });

        Assert.Equal(expected, connAck.ReasonCode);
        Assert.Null(_broker.FindSession("will-control"));
    }

    // An acknowledgement of the other QoS flow is a protocol error: 5.0 DISCONNECT 0x82 (§4.13.1), 3.1.1 closed (§4.8).
    [Theory]
    [InlineData(MqttProtocolVersion.V500, QualityOfService.AtLeastOnce, PacketType.PubRec)]
    [InlineData(MqttProtocolVersion.V500, QualityOfService.AtLeastOnce, PacketType.PubComp)]
    [InlineData(MqttProtocolVersion.V500, QualityOfService.ExactlyOnce, PacketType.PubAck)]
    [InlineData(MqttProtocolVersion.V311, QualityOfService.AtLeastOnce, PacketType.PubRec)]
    [InlineData(MqttProtocolVersion.V311, QualityOfService.ExactlyOnce, PacketType.PubAck)]
    public async Task An_acknowledgement_of_the_wrong_type_closes_the_connection(MqttProtocolVersion version, QualityOfService qos, PacketType wrong)
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", version);
        await subscriber.SubscribeAsync("wrong/ack", qos);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAsync("wrong/ack", "m", qos);

        var delivery = await subscriber.ExpectPublishAsync();
        Assert.Equal(qos, delivery.QualityOfService);
        await subscriber.SendAsync(new AckPacket(wrong, delivery.PacketId));

        var packets = await subscriber.DrainUntilClosedAsync();
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal(ReasonCode.ProtocolError, Assert.IsType<DisconnectPacket>(Assert.Single(packets).Control).ReasonCode);
        }
        else
        {
            Assert.Empty(packets);
        }
    }

    // An acknowledgement for an id not in flight (late, or sent twice) is no error: the connection goes on.
    [Fact]
    public async Task An_acknowledgement_for_an_id_not_in_flight_is_ignored()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "c", MqttProtocolVersion.V500);
        await client.SendAsync(new AckPacket(PacketType.PubAck, 77));
        await client.SendAsync(new AckPacket(PacketType.PubComp, 78));
        await client.SubscribeAsync("still/open");
        await client.PublishAsync("still/open", "yes");
        Assert.Equal("yes", (await client.ExpectPublishAsync()).PayloadText);
    }

    // MQTT 3.1 has no Session Present: the CONNACK's first byte is reserved, 0 even when the session was kept.
    [Fact]
    public async Task A_v31_connack_never_sets_session_present()
    {
        await using (var first = await PipeClient.ConnectAsync(_broker, "old", MqttProtocolVersion.V310, cleanStart: false))
        {
            await first.DisconnectAsync();
        }

        await using var again = PipeClient.Open(_broker, MqttProtocolVersion.V310);
        await again.SendAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V310, ClientId = "old", CleanStart = false });
        Assert.True(_broker.FindSession("old") is not null);
        var connAck = await again.ExpectAsync<ConnAckPacket>();
        Assert.Equal(ReasonCode.Success, connAck.ReasonCode);
        Assert.False(connAck.SessionPresent);
    }
}
