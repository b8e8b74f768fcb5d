using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>QoS 0 routing, wildcards, overlapping subscriptions, retained messages and keep-alive over in-memory pipes.</summary>
public sealed class PublishSubscribeTests : IAsyncLifetime
{
    private readonly MqttBroker _broker = TestBroker.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Qos0_message_reaches_a_wildcard_subscriber(MqttProtocolVersion version)
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", version);
        var subAck = await subscriber.SubscribeAsync("home/+/temperature");
        Assert.Equal([ReasonCode.Success], subAck.ReasonCodes);

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", version);
        await publisher.PublishAsync("home/kitchen/temperature", "21.5");

        var message = await subscriber.ExpectPublishAsync();
        Assert.Equal("home/kitchen/temperature", message.Topic);
        Assert.Equal("21.5", message.PayloadText);
        Assert.Equal(QualityOfService.AtMostOnce, message.QualityOfService);
        Assert.False(message.Retain);
    }

    [Fact]
    public async Task Messages_of_one_publisher_arrive_in_order()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub");
        await subscriber.SubscribeAsync("seq/#", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        for (var i = 0; i < 200; i++)
        {
            await publisher.PublishAsync("seq/" + (i % 3), i.ToString(System.Globalization.CultureInfo.InvariantCulture), (QualityOfService)(i % 2));
        }

        for (var i = 0; i < 200; i++)
        {
            var message = await subscriber.ExpectPublishAsync();
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), message.PayloadText);
            if (message.QualityOfService == QualityOfService.AtLeastOnce)
            {
                await subscriber.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
            }
        }
    }

    // 3.1.1 §3.3.5 / 5.0 [MQTT-3.3.4-2]: overlapping subscriptions give one copy at the highest granted QoS.
    [Fact]
    public async Task Overlapping_subscriptions_deliver_one_copy_at_the_highest_qos()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub");
        await subscriber.SubscribeAsync("a/#", QualityOfService.AtMostOnce);
        await subscriber.SubscribeAsync("a/+/c", QualityOfService.ExactlyOnce);
        await subscriber.SubscribeAsync("a/b/c", QualityOfService.AtLeastOnce);
        await subscriber.SubscribeAsync("marker");

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAsync("a/b/c", "once", QualityOfService.ExactlyOnce, packetId: 1);
        await publisher.ExpectAckAsync(PacketType.PubRec);
        await publisher.PublishAsync("marker", "end");

        var message = await subscriber.ExpectPublishAsync();
        Assert.Equal("once", message.PayloadText);
        Assert.Equal(QualityOfService.ExactlyOnce, message.QualityOfService);
        Assert.Equal("marker", (await subscriber.ExpectPublishAsync()).Topic);
    }

    // 3.1.1 [MQTT-3.8.4-6] / §3.3.5: delivery QoS is the lower of published and granted.
    [Fact]
    public async Task Qos_is_downgraded_to_the_granted_qos()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub");
        await subscriber.SubscribeAsync("down", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        await publisher.PublishAsync("down", "q2", QualityOfService.ExactlyOnce);
        Assert.Equal(QualityOfService.AtLeastOnce, (await subscriber.ExpectPublishAsync()).QualityOfService);

        await publisher.PublishAsync("down", "q0");
        Assert.Equal(QualityOfService.AtMostOnce, (await subscriber.ExpectPublishAsync()).QualityOfService);
    }

    // [MQTT-4.7.2-1] and the issue's rule: clients may not publish to '$' topics.
    [Theory]
    [InlineData(MqttProtocolVersion.V311, ReasonCode.Success)]
    [InlineData(MqttProtocolVersion.V500, ReasonCode.TopicNameInvalid)]
    public async Task Clients_may_not_publish_to_dollar_topics(MqttProtocolVersion version, ReasonCode expectedAck)
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub");
        await subscriber.SubscribeAsync("$fake/#");
        await subscriber.SubscribeAsync("marker");

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", version);
        await publisher.PublishAsync("$fake/topic", "nope", QualityOfService.AtLeastOnce);
        Assert.Equal(expectedAck, (await publisher.ExpectAckAsync(PacketType.PubAck)).ReasonCode);
        await publisher.PublishAsync("marker", "end");

        Assert.Equal("marker", (await subscriber.ExpectPublishAsync()).Topic);
    }

    [Fact]
    public async Task Invalid_filters_are_refused_per_filter()
    {
        await using var v5 = await PipeClient.ConnectAsync(_broker, "v5", MqttProtocolVersion.V500);
        await v5.SendAsync(new SubscribePacket
        {
            PacketId = 1,
            Subscriptions = [new("a/#/b", new(QualityOfService.AtMostOnce)), new("ok/+", new(QualityOfService.AtLeastOnce)), new("$share/g/x/#/y", new(QualityOfService.AtMostOnce))],
        });
        var subAck = await v5.ExpectAsync<SubAckPacket>();
        Assert.Equal([ReasonCode.TopicFilterInvalid, ReasonCode.GrantedQoS1, ReasonCode.TopicFilterInvalid], subAck.ReasonCodes);

        await using var v3 = await PipeClient.ConnectAsync(_broker, "v3");
        Assert.Equal([ReasonCode.UnspecifiedError], (await v3.SubscribeAsync("a+")).ReasonCodes);
    }

    [Fact]
    public async Task Unsubscribe_stops_delivery_and_reports_unknown_filters_in_5()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("gone");
        await subscriber.SubscribeAsync("marker");
        Assert.Equal([ReasonCode.Success], (await subscriber.UnsubscribeAsync("gone")).ReasonCodes);
        Assert.Equal([ReasonCode.NoSubscriptionExisted], (await subscriber.UnsubscribeAsync("never")).ReasonCodes);

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAsync("gone", "x");
        await publisher.PublishAsync("marker", "end");

        Assert.Equal("marker", (await subscriber.ExpectPublishAsync()).Topic);
        Assert.Equal(1, _broker.Subscriptions.Count);
    }

    // 3.1.1 [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11].
    [Fact]
    public async Task Retained_messages_are_stored_replaced_delivered_and_deleted()
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("status/door", "open", retain: true);
        await publisher.PublishAndWaitAsync("status/door", "closed", retain: true);
        await publisher.PublishAndWaitAsync("status/window", "shut", retain: true);

        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub");
        await subscriber.SubscribeAsync("status/door", QualityOfService.AtLeastOnce);
        var retained = await subscriber.ExpectPublishAsync();
        Assert.Equal("closed", retained.PayloadText);
        Assert.True(retained.Retain);
        Assert.Equal(QualityOfService.AtLeastOnce, retained.QualityOfService);
        await subscriber.SendAsync(new AckPacket(PacketType.PubAck, retained.PacketId));

        // Live delivery of a retained publish carries RETAIN 0 to existing subscribers.
        await publisher.PublishAndWaitAsync("status/door", "ajar", retain: true);
        var live = await subscriber.ExpectPublishAsync();
        Assert.Equal("ajar", live.PayloadText);
        Assert.False(live.Retain);
        await subscriber.SendAsync(new AckPacket(PacketType.PubAck, live.PacketId));

        // An empty retained payload deletes it; it is still delivered live.
        await publisher.PublishAndWaitAsync("status/door", "", retain: true);
        Assert.Equal("", (await subscriber.ExpectPublishAsync()).PayloadText);
        Assert.Null(_broker.Retained.Get("status/door"));
        Assert.NotNull(_broker.Retained.Get("status/window"));
    }

    // 3.1.1 [MQTT-3.8.4-3]: a repeated SUBSCRIBE resends the retained messages.
    [Fact]
    public async Task Repeated_subscribe_resends_retained_messages_and_suback_comes_first()
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("r/1", "one", retain: true);
        await publisher.PublishAndWaitAsync("r/2", "two", retain: true);

        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub");
        for (var round = 0; round < 2; round++)
        {
            await subscriber.SubscribeAsync("r/+");
            var payloads = new[] { (await subscriber.ExpectPublishAsync()).PayloadText, (await subscriber.ExpectPublishAsync()).PayloadText };
            Assert.Equal(["one", "two"], payloads.Order());
        }
    }

    // 5.0 §3.8.3.1: Retain Handling 1 sends retained messages only for a new subscription, 2 never; Retain As Published keeps RETAIN.
    [Fact]
    public async Task Retain_handling_and_retain_as_published_in_5()
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("rh", "kept", retain: true);

        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("marker");
        await subscriber.SubscribeAsync("rh", options: new SubscriptionOptions(QualityOfService.AtMostOnce, RetainAsPublished: true, RetainHandling: RetainHandling.SendAtSubscribeIfNew));
        Assert.True((await subscriber.ExpectPublishAsync()).Retain);

        await subscriber.SubscribeAsync("rh", options: new SubscriptionOptions(QualityOfService.AtMostOnce, RetainAsPublished: true, RetainHandling: RetainHandling.SendAtSubscribeIfNew));
        await subscriber.SubscribeAsync("rh", options: new SubscriptionOptions(QualityOfService.AtMostOnce, RetainAsPublished: true, RetainHandling: RetainHandling.DoNotSend));

        await publisher.PublishAndWaitAsync("rh", "live", retain: true);
        var live = await subscriber.ExpectPublishAsync();
        Assert.Equal("live", live.PayloadText);
        Assert.True(live.Retain);
    }

    // 5.0 [MQTT-3.8.3-3]: No Local keeps a client's own messages from it.
    [Fact]
    public async Task No_local_skips_the_publisher_itself()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "self", MqttProtocolVersion.V500);
        await client.SubscribeAsync("echo", options: new SubscriptionOptions(QualityOfService.AtMostOnce, NoLocal: true));
        await client.SubscribeAsync("marker");
        await client.PublishAsync("echo", "mine");
        await client.PublishAsync("marker", "end");

        Assert.Equal("marker", (await client.ExpectPublishAsync()).Topic);
    }

    // 5.0 properties pass through untouched (user properties in order, content type, correlation data).
    [Fact]
    public async Task Message_properties_pass_through_to_5_subscribers()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("props");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500);
        await publisher.PublishAsync("props", "{}", properties: new MqttProperties
        {
            ContentType = "application/json",
            CorrelationData = [1, 2, 3],
            ResponseTopic = "reply/here",
            PayloadFormatIndicator = 1,
            UserProperties = [new("b", "1"), new("a", "2"), new("b", "3")],
        });

        var properties = (await subscriber.ExpectPublishAsync()).Properties;
        Assert.Equal("application/json", properties.ContentType);
        Assert.Equal([1, 2, 3], properties.CorrelationData);
        Assert.Equal("reply/here", properties.ResponseTopic);
        Assert.Equal((byte)1, properties.PayloadFormatIndicator);
        Assert.Equal([new UserProperty("b", "1"), new UserProperty("a", "2"), new UserProperty("b", "3")], properties.UserProperties);
    }

    // 3.1.1 / 5.0 [MQTT-3.1.2-24] (3.1.1 [MQTT-3.1.2-24]): 1.5 times the keep-alive without a packet closes the connection.
    [Fact]
    public async Task Silent_client_is_closed_after_one_and_a_half_keep_alives()
    {
        // From before the CONNECT: the broker counts from it, and a busy machine may take a while to answer it.
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var client = await PipeClient.ConnectAsync(_broker, "quiet", MqttProtocolVersion.V500, keepAlive: 1);

        var packets = await client.DrainUntilClosedAsync();

        Assert.True(started.Elapsed >= TimeSpan.FromSeconds(1.4), $"closed after {started.Elapsed}");
        var disconnect = Assert.IsType<DisconnectPacket>(Assert.Single(packets).Control);
        Assert.Equal(ReasonCode.KeepAliveTimeout, disconnect.ReasonCode);
    }

    [Fact]
    public async Task Pings_keep_the_connection_alive()
    {
        // A client pings every 300 ms, well inside its 1 s keep-alive, for twice the 1.5 s limit, on a broker
        // clock the test moves; a silent client with the same keep-alive shows that the broker did check.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = TestBroker.Start(time: time);
        await using var client = await PipeClient.ConnectAsync(broker, "pinger", keepAlive: 1);
        await using var silent = await PipeClient.ConnectAsync(broker, "silent", keepAlive: 1);
        for (var i = 0; i < 10; i++)
        {
            await client.SendAsync(PingReqPacket.Instance);
            await client.ExpectAsync<PingRespPacket>();
            time.Advance(TimeSpan.FromMilliseconds(300));
        }

        await silent.Closed.WaitAsync(PipeClient.Timeout);
        await client.SendAsync(PingReqPacket.Instance);
        await client.ExpectAsync<PingRespPacket>();
        Assert.False(client.Closed.IsCompleted);
    }
}
