using System.Diagnostics.Metrics;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>The broker's counters: messages and bytes by QoS, drops by reason, authentication failures, connections by listener, delivery latency.</summary>
public sealed class StatisticsTests : IAsyncLifetime
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    private MqttBroker _broker = TestBroker.Start();

    private BrokerStatistics Statistics => _broker.Statistics;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    private async Task UseBrokerAsync(Action<BrokerOptions> configure)
    {
        await _broker.DisposeAsync();
        _broker = TestBroker.Start(configure);
    }

    /// <summary>A 3.1.1 persistent session subscribed to <paramref name="filter"/>, then offline.</summary>
    private async Task OfflineSubscriberAsync(string clientId, string filter, MqttProtocolVersion version = MqttProtocolVersion.V311)
    {
        var subscriber = await PipeClient.ConnectAsync(_broker, clientId, version, cleanStart: false,
            properties: version == V5 ? new MqttProperties { SessionExpiryInterval = 300 } : null);
        await subscriber.SubscribeAsync(filter, QualityOfService.AtLeastOnce);
        await subscriber.DisconnectAsync();
        await Poll.UntilAsync(() => _broker.FindSession(clientId) is { IsConnected: false });
    }

    [Fact]
    public async Task Messages_and_bytes_are_counted_by_qos()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub");
        await subscriber.SubscribeAsync("s/q", QualityOfService.ExactlyOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        await publisher.PublishAsync("s/q", "abcd");
        await publisher.PublishAsync("s/q", "abcd", QualityOfService.AtLeastOnce);
        await publisher.PublishAsync("s/q", "abcd", QualityOfService.ExactlyOnce);
        await publisher.PublishAsync("s/q", "abcd", QualityOfService.ExactlyOnce);
        for (var i = 0; i < 4; i++)
        {
            await subscriber.ExpectPublishAsync();
        }

        // 3.1.1 PUBLISH of topic "s/q" and payload "abcd": 2 bytes of fixed header, 2 + 3 of topic, 2 of packet id above QoS 0, 4 of payload.
        Assert.Equal((1, 1, 2), (Statistics.MessagesReceivedAt(QualityOfService.AtMostOnce), Statistics.MessagesReceivedAt(QualityOfService.AtLeastOnce),
            Statistics.MessagesReceivedAt(QualityOfService.ExactlyOnce)));
        Assert.Equal((11, 13, 26), (Statistics.PublishBytesReceivedAt(QualityOfService.AtMostOnce), Statistics.PublishBytesReceivedAt(QualityOfService.AtLeastOnce),
            Statistics.PublishBytesReceivedAt(QualityOfService.ExactlyOnce)));
        await Poll.UntilAsync(() => Statistics.MessagesDelivered == 4);
        Assert.Equal((1, 1, 2), (Statistics.MessagesDeliveredAt(QualityOfService.AtMostOnce), Statistics.MessagesDeliveredAt(QualityOfService.AtLeastOnce),
            Statistics.MessagesDeliveredAt(QualityOfService.ExactlyOnce)));
        Assert.Equal((11, 13, 26), (Statistics.PublishBytesSentAt(QualityOfService.AtMostOnce), Statistics.PublishBytesSentAt(QualityOfService.AtLeastOnce),
            Statistics.PublishBytesSentAt(QualityOfService.ExactlyOnce)));
        Assert.Equal(4, Statistics.MessagesReceived);
    }

    [Theory]
    [InlineData(QueueOverflowPolicy.DropNewest)]
    [InlineData(QueueOverflowPolicy.DropOldestQoS0)]
    public async Task A_full_queue_counts_queue_full_under_both_policies(QueueOverflowPolicy policy)
    {
        await UseBrokerAsync(o =>
        {
            o.MaximumQueuedMessages = 2;
            o.QueueQoS0WhileOffline = true;
            o.QueueOverflowPolicy = policy;
        });
        await OfflineSubscriberAsync("sub", "full");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        await publisher.PublishAsync("full", "qos 0");
        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishAndWaitAsync("full", "m" + i);
        }

        // DropNewest refuses m1 and m2; DropOldestQoS0 makes room for m1 by dropping the QoS 0 message, then refuses m2.
        Assert.Equal(2, Statistics.Dropped(DropReason.QueueFull));
        Assert.Equal(2, Statistics.MessagesDropped);
    }

    [Fact]
    public async Task Qos0_for_an_offline_session_counts_offline_qos0()
    {
        await OfflineSubscriberAsync("sub", "off");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        await publisher.PublishAsync("off", "lost");
        await publisher.PublishAndWaitAsync("off", "queued");

        Assert.Equal(1, Statistics.Dropped(DropReason.OfflineQoS0));
        Assert.Equal(1, _broker.FindSession("sub")!.QueuedMessages);
    }

    [Fact]
    public async Task A_message_expiring_in_the_queue_counts_expired()
    {
        await OfflineSubscriberAsync("sub", "exp", V5);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", V5);
        await publisher.PublishAsync("exp", "short", QualityOfService.AtLeastOnce, properties: new MqttProperties { MessageExpiryInterval = 1 });
        await publisher.ExpectAckAsync(PacketType.PubAck);
        var expiredAt = DateTime.UtcNow.AddSeconds(1.2);
        await Poll.UntilAsync(() => DateTime.UtcNow > expiredAt);

        await using var again = await PipeClient.ConnectAsync(_broker, "sub", V5, cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 300 });

        await Poll.UntilAsync(() => Statistics.Dropped(DropReason.Expired) == 1);
        Assert.Equal(0, _broker.FindSession("sub")!.QueuedMessages);
    }

    [Fact]
    public async Task A_message_over_the_clients_maximum_packet_size_counts_too_large()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "small", V5, properties: new MqttProperties { MaximumPacketSize = 100 });
        await subscriber.SubscribeAsync("size/#");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        await publisher.PublishAndWaitAsync("size/big", new string('b', 200));
        await publisher.PublishAndWaitAsync("size/small", "fits");

        Assert.Equal("fits", (await subscriber.ExpectPublishAsync()).PayloadText);
        Assert.Equal(1, Statistics.Dropped(DropReason.TooLarge));
        Assert.Equal(1, Statistics.MessagesDelivered);
    }

    [Fact]
    public async Task Messages_left_in_an_ended_session_count_session_ended()
    {
        await OfflineSubscriberAsync("sub", "end");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("end", "one");
        await publisher.PublishAndWaitAsync("end", "two");

        // A clean start ends the old session with its queue.
        await using var again = await PipeClient.ConnectAsync(_broker, "sub", cleanStart: true);

        Assert.Equal(2, Statistics.Dropped(DropReason.SessionEnded));
    }

    [Fact]
    public async Task Unacknowledged_messages_of_a_session_ending_with_its_connection_count_session_ended()
    {
        var subscriber = await PipeClient.ConnectAsync(_broker, "sub");
        await subscriber.SubscribeAsync("end", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("end", "never acknowledged");
        await subscriber.ExpectPublishAsync();

        await subscriber.DropAsync();

        await Poll.UntilAsync(() => Statistics.Dropped(DropReason.SessionEnded) == 1);
    }

    [Fact]
    public async Task A_publish_refused_by_a_topic_limit_counts_publish_refused()
    {
        await UseBrokerAsync(o => o.MaximumTopicLevels = 2);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        await publisher.PublishAndWaitAsync("a/b/c", "too deep");
        await publisher.PublishAndWaitAsync("$reserved", "server only");

        Assert.Equal(2, Statistics.Dropped(DropReason.PublishRefused));
        Assert.Equal(0, Statistics.MessagesReceived);
    }

    [Fact]
    public async Task A_message_nobody_subscribed_to_counts_no_subscribers_unless_retained()
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        await publisher.PublishAndWaitAsync("nobody/listens", "lost");
        await publisher.PublishAndWaitAsync("nobody/listens", "kept", retain: true);

        Assert.Equal(1, Statistics.Dropped(DropReason.NoSubscribers));
    }

    [Fact]
    public async Task A_shared_message_with_no_member_left_counts_no_subscribers()
    {
        await using var member = await PipeClient.ConnectAsync(_broker, "member", V5);
        await member.SubscribeAsync("$share/g/jobs", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", V5);
        await publisher.PublishAndWaitAsync("jobs", "unacknowledged");
        await member.ExpectPublishAsync();

        await member.DropAsync();

        await Poll.UntilAsync(() => Statistics.Dropped(DropReason.NoSubscribers) == 1);
    }

    [Fact]
    public async Task A_qos0_publish_while_stopping_counts_broker_stopping()
    {
        await using var slow = await PipeClient.ConnectAsync(_broker, "slow", V5);
        await slow.SubscribeAsync("hold", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", V5);
        await publisher.PublishAndWaitAsync("hold", "keeps the broker draining");
        var held = await slow.ExpectPublishAsync();
        var stopping = _broker.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(BrokerState.Draining, _broker.State);

        await publisher.PublishAsync("hold", "lost");
        await publisher.PublishAsync("hold", "kept by its publisher", QualityOfService.AtLeastOnce);

        await Poll.UntilAsync(() => Statistics.Dropped(DropReason.BrokerStopping) == 1);
        await slow.SendAsync(new AckPacket(PacketType.PubAck, held.PacketId));
        await stopping.WaitAsync(PipeClient.Timeout);
        Assert.Equal(1, Statistics.Dropped(DropReason.BrokerStopping));
    }

    [Fact]
    public async Task A_connect_with_an_unsupported_authentication_method_counts_an_authentication_failure()
    {
        await using var client = PipeClient.Open(_broker, V5);
        await client.ConnectRawAsync(new ConnectPacket { ProtocolVersion = V5, ClientId = "c", Properties = new MqttProperties { AuthenticationMethod = "SCRAM-SHA-256" } });
        await using var refusedForAnotherReason = PipeClient.Open(_broker, MqttProtocolVersion.V310);
        await refusedForAnotherReason.ConnectRawAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V310, ClientId = new string('x', 24) });

        Assert.Equal(1, Statistics.AuthenticationFailures);
        Assert.Equal(2, Statistics.ConnectionsRefused);
    }

    [Fact]
    public async Task Connections_are_counted_by_listener_and_version()
    {
        await using var v3 = await PipeClient.ConnectAsync(_broker, "a");
        await using var v5 = await PipeClient.ConnectAsync(_broker, "b", V5);
        await using var other = await PipeClient.ConnectAsync(_broker, "c", V5);

        var counts = _broker.CountConnections();

        Assert.Equal(1, counts[("pipe", MqttProtocolVersion.V311)]);
        Assert.Equal(2, counts[("pipe", V5)]);
        Assert.Equal(2, counts.Count);
    }

    [Fact]
    public async Task Each_written_batch_records_the_latency_of_its_oldest_live_delivery()
    {
        using var meter = new Meter("IoTHub.Broker.Tests.Latency");
        var histogram = meter.CreateHistogram<double>("latency", "s");
        using var recorder = new HistogramRecorder(histogram, "broker");
        _broker.Statistics.RecordDeliveryLatencyIn(histogram, new KeyValuePair<string, object?>("broker", "test"));

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("lat/retained", "sent at subscribe: not measured", retain: true);
        await using var first = await PipeClient.ConnectAsync(_broker, "first");
        await first.SubscribeAsync("lat/#", QualityOfService.AtLeastOnce);
        Assert.True((await first.ExpectPublishAsync()).Retain);
        await using var second = await PipeClient.ConnectAsync(_broker, "second");
        await second.SubscribeAsync("lat/live");

        // One message at a time: each delivery is a batch of its own, 5 messages to 2 subscribers.
        for (var i = 0; i < 5; i++)
        {
            await publisher.PublishAndWaitAsync("lat/live", "m" + i);
            await first.ExpectPublishAsync();
            await second.ExpectPublishAsync();
        }

        await Poll.UntilAsync(() => Statistics.MessagesDelivered == 11);
        var recorded = recorder.Recorded(clear: true);
        Assert.Equal(10, recorded.Count);
        Assert.All(recorded, r => Assert.Equal(("test", 1), (r.Tag, r.TagCount)));
        Assert.All(recorded, r => Assert.InRange(r.Value, 0, PipeClient.Timeout.TotalSeconds));

        // Three messages queued while offline go out in one batch after the reconnect: one latency, that of the oldest.
        await OfflineSubscriberAsync("offline", "queued");
        var publishedFirst = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishAndWaitAsync("queued", "q" + i);
        }

        await using var back = await PipeClient.ConnectAsync(_broker, "offline", cleanStart: false);
        for (var i = 0; i < 3; i++)
        {
            await back.ExpectPublishAsync();
        }

        var reconnectedFor = System.Diagnostics.Stopwatch.GetElapsedTime(publishedFirst).TotalSeconds;
        await Poll.UntilAsync(() => Statistics.MessagesDelivered == 14);
        Assert.InRange(Assert.Single(recorder.Recorded()).Value, 0, reconnectedFor);
    }
}
