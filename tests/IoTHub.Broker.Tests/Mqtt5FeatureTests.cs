using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>MQTT 5.0 features: topic aliases both ways, subscription identifiers, message expiry.</summary>
public sealed class Mqtt5FeatureTests : IAsyncLifetime
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    private readonly MqttBroker _broker = TestBroker.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    // §3.3.2.3.4: a topic with an alias sets it up; an empty topic with the alias uses it.
    [Fact]
    public async Task Client_topic_aliases_are_resolved()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", V5);
        await subscriber.SubscribeAsync("sensors/#");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", V5);

        await publisher.PublishAsync("sensors/a", "1", properties: new MqttProperties { TopicAlias = 3 });
        await publisher.PublishAsync("", "2", properties: new MqttProperties { TopicAlias = 3 });
        await publisher.PublishAsync("sensors/b", "3", properties: new MqttProperties { TopicAlias = 3 });
        await publisher.PublishAsync("", "4", properties: new MqttProperties { TopicAlias = 3 });

        var topics = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var message = await subscriber.ExpectPublishAsync();
            topics.Add(message.Topic);
            Assert.Null(message.Properties.TopicAlias);
        }

        Assert.Equal(["sensors/a", "sensors/a", "sensors/b", "sensors/b"], topics);
    }

    [Fact]
    public async Task Using_an_alias_that_was_never_set_up_is_a_protocol_error()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "c", V5);
        await client.PublishAsync("", "x", properties: new MqttProperties { TopicAlias = 1 });

        Assert.Equal(ReasonCode.ProtocolError, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
    }

    // §3.3.2.3.4 from the server: up to the client's Topic Alias Maximum, never more [MQTT-3.3.2-10] [MQTT-3.3.2-11].
    [Fact]
    public async Task Broker_sends_topic_aliases_within_the_clients_maximum()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", V5, properties: new MqttProperties { TopicAliasMaximum = 2 });
        await subscriber.SubscribeAsync("t/#");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        foreach (var topic in new[] { "t/a", "t/a", "t/b", "t/b", "t/c", "t/a" })
        {
            await publisher.PublishAsync(topic, topic);
        }

        var seen = new List<(string Topic, ushort? Alias)>();
        for (var i = 0; i < 6; i++)
        {
            var message = await subscriber.ExpectPublishAsync();
            seen.Add((message.Topic, message.Properties.TopicAlias));
        }

        // Full topic with a new alias, then the alias alone; a third topic takes over slot 1.
        Assert.Equal([("t/a", 1), ("", 1), ("t/b", 2), ("", 2), ("t/c", 1), ("t/a", 2)], seen);
        Assert.All(seen, s => Assert.InRange(s.Alias!.Value, 1, 2));
    }

    [Fact]
    public async Task No_aliases_are_sent_to_a_client_that_allows_none()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", V5);
        await subscriber.SubscribeAsync("t");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAsync("t", "1");
        await publisher.PublishAsync("t", "2");

        for (var i = 0; i < 2; i++)
        {
            var message = await subscriber.ExpectPublishAsync();
            Assert.Equal("t", message.Topic);
            Assert.Null(message.Properties.TopicAlias);
        }
    }

    // [MQTT-3.3.4-3] [MQTT-3.3.4-4] [MQTT-3.3.4-5]: every matching subscription's identifier, on one copy.
    [Fact]
    public async Task Subscription_identifiers_come_with_each_delivery()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", V5);
        await Subscribe(subscriber, "home/#", 7);
        await Subscribe(subscriber, "home/+/temp", 300);
        await Subscribe(subscriber, "home/kitchen/temp", 0);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        await publisher.PublishAndWaitAsync("home/kitchen/temp", "21", retain: true);
        Assert.Equal([7u, 300u], (await subscriber.ExpectPublishAsync()).Properties.SubscriptionIdentifiers!.Order());

        await publisher.PublishAsync("home/door", "open");
        Assert.Equal([7u], (await subscriber.ExpectPublishAsync()).Properties.SubscriptionIdentifiers);

        // Retained messages sent on subscribe carry that subscription's identifier.
        await Subscribe(subscriber, "home/kitchen/+", 42);
        Assert.Equal([42u], (await subscriber.ExpectPublishAsync()).Properties.SubscriptionIdentifiers);
    }

    private static async Task Subscribe(MqttTestClient client, string filter, uint id)
    {
        await client.SendAsync(new SubscribePacket
        {
            PacketId = client.NextPacketId(),
            Subscriptions = [new(filter, new(QualityOfService.AtMostOnce))],
            Properties = id == 0 ? null : new MqttProperties { SubscriptionIdentifiers = [id] },
        });
        await client.ExpectAsync<SubAckPacket>();
    }

    // §3.3.2.3.3 [MQTT-3.3.2-5] [MQTT-3.3.2-6]: expired messages are not delivered; others carry the time left.
    [Fact]
    public async Task Queued_messages_expire_and_the_rest_carry_the_time_left()
    {
        var subscriber = await PipeClient.ConnectAsync(_broker, "sub", V5, cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 60 });
        await subscriber.SubscribeAsync("exp", QualityOfService.AtLeastOnce);
        await subscriber.DisconnectAsync();

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", V5);
        await publisher.PublishAsync("exp", "short", QualityOfService.AtLeastOnce, properties: new MqttProperties { MessageExpiryInterval = 1 });
        await publisher.ExpectAckAsync(PacketType.PubAck);
        await publisher.PublishAsync("exp", "long", QualityOfService.AtLeastOnce, properties: new MqttProperties { MessageExpiryInterval = 100 });
        await publisher.ExpectAckAsync(PacketType.PubAck);
        await publisher.PublishAsync("exp", "forever", QualityOfService.AtLeastOnce);
        await publisher.ExpectAckAsync(PacketType.PubAck);
        var expiredAt = DateTime.UtcNow.AddSeconds(1.2);
        await Poll.UntilAsync(() => DateTime.UtcNow > expiredAt);

        await using var again = await PipeClient.ConnectAsync(_broker, "sub", V5, cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 60 });
        var first = await again.ExpectPublishAsync();
        Assert.Equal("long", first.PayloadText);
        Assert.InRange(first.Properties.MessageExpiryInterval!.Value, 95u, 99u);
        var second = await again.ExpectPublishAsync();
        Assert.Equal("forever", second.PayloadText);
        Assert.Null(second.Properties.MessageExpiryInterval);
    }

    [Fact]
    public async Task Expired_retained_messages_are_not_delivered()
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", V5);
        await publisher.PublishAsync("r/short", "gone soon", QualityOfService.AtLeastOnce, retain: true, properties: new MqttProperties { MessageExpiryInterval = 1 });
        await publisher.ExpectAckAsync(PacketType.PubAck);
        await publisher.PublishAsync("r/kept", "kept", QualityOfService.AtLeastOnce, retain: true);
        await publisher.ExpectAckAsync(PacketType.PubAck);

        await Poll.UntilAsync(() => _broker.Retained.Get("r/short") is null);

        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", V5);
        await subscriber.SubscribeAsync("r/+");
        Assert.Equal("kept", (await subscriber.ExpectPublishAsync()).PayloadText);
    }
}
