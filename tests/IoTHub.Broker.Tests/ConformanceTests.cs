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
