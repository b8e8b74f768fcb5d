using System.IO.Pipelines;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>QoS 1 and 2 flows, persistent sessions, offline queues and their limits (3.1.1 §4.3-4.6, 5.0 §4.3-4.9).</summary>
public sealed class QosAndSessionTests : IAsyncLifetime
{
    private MqttBroker _broker = TestBroker.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    private async Task UseBrokerAsync(Action<BrokerOptions> configure)
    {
        await _broker.DisposeAsync();
        _broker = TestBroker.Start(configure);
    }

    private Task<MqttTestClient> PersistentAsync(string clientId, MqttProtocolVersion version = MqttProtocolVersion.V311) =>
        PipeClient.ConnectAsync(_broker, clientId, version, cleanStart: false,
            properties: version == MqttProtocolVersion.V500 ? new MqttProperties { SessionExpiryInterval = 300 } : null);

    [Fact]
    public async Task Qos1_is_acknowledged_and_delivered_with_a_packet_id()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub");
        await subscriber.SubscribeAsync("q1", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        var id = await publisher.PublishAsync("q1", "hello", QualityOfService.AtLeastOnce);
        Assert.Equal(id, (await publisher.ExpectAckAsync(PacketType.PubAck)).PacketId);

        var message = await subscriber.ExpectPublishAsync();
        Assert.Equal(QualityOfService.AtLeastOnce, message.QualityOfService);
        Assert.NotEqual(0, message.PacketId);
        Assert.False(message.Duplicate);
        await subscriber.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
    }

    // [MQTT-4.3.3-1] .. [MQTT-4.3.3-10] (3.1.1 §4.3.3): PUBREC, PUBREL, PUBCOMP; a resent PUBLISH before PUBREL is not delivered again.
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Qos2_is_delivered_exactly_once_even_when_resent_before_pubrel(MqttProtocolVersion version)
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", version);
        await subscriber.SubscribeAsync("q2", QualityOfService.ExactlyOnce);
        await subscriber.SubscribeAsync("marker");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", version);

        var id = await publisher.PublishAsync("q2", "exactly", QualityOfService.ExactlyOnce);
        Assert.Equal(id, (await publisher.ExpectAckAsync(PacketType.PubRec)).PacketId);
        await publisher.PublishAsync("q2", "exactly", QualityOfService.ExactlyOnce, packetId: id, duplicate: true);
        Assert.Equal(id, (await publisher.ExpectAckAsync(PacketType.PubRec)).PacketId);
        await publisher.SendAsync(new AckPacket(PacketType.PubRel, id));
        Assert.Equal(id, (await publisher.ExpectAckAsync(PacketType.PubComp)).PacketId);

        // The same packet id after PUBCOMP is a new message.
        await publisher.PublishAsync("q2", "again", QualityOfService.ExactlyOnce, packetId: id);
        await publisher.ExpectAckAsync(PacketType.PubRec);
        await publisher.PublishAsync("marker", "end");

        var first = await subscriber.ExpectPublishAsync();
        var second = await subscriber.ExpectPublishAsync();
        Assert.Equal("marker", (await subscriber.ExpectPublishAsync()).Topic);
        Assert.Equal("exactly", first.PayloadText);
        Assert.Equal(QualityOfService.ExactlyOnce, first.QualityOfService);
        Assert.Equal("again", second.PayloadText);

        await subscriber.SendAsync(new AckPacket(PacketType.PubRec, first.PacketId));
        Assert.Equal(first.PacketId, (await subscriber.ExpectAckAsync(PacketType.PubRel)).PacketId);
        await subscriber.SendAsync(new AckPacket(PacketType.PubComp, first.PacketId));
    }

    [Fact]
    public async Task Pubrel_for_an_unknown_id_gets_pubcomp_with_0x92_in_5()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "c", MqttProtocolVersion.V500);
        await client.SendAsync(new AckPacket(PacketType.PubRel, 77));

        var pubComp = await client.ExpectAckAsync(PacketType.PubComp);
        Assert.Equal(77, pubComp.PacketId);
        Assert.Equal(ReasonCode.PacketIdentifierNotFound, pubComp.ReasonCode);
    }

    // Acknowledgements go out in the order the packets arrived (3.1.1 [MQTT-4.6.0-2] [MQTT-4.6.0-3], 5.0 §4.6).
    [Fact]
    public async Task Acknowledgements_keep_the_order_of_the_packets()
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAsync("a", "1", QualityOfService.AtLeastOnce, packetId: 1);
        await publisher.PublishAsync("a", "2", QualityOfService.ExactlyOnce, packetId: 2);
        await publisher.PublishAsync("a", "3", QualityOfService.AtLeastOnce, packetId: 3);
        await publisher.SendAsync(new AckPacket(PacketType.PubRel, 2));
        await publisher.PublishAsync("a", "4", QualityOfService.ExactlyOnce, packetId: 4);

        Assert.Equal(1, (await publisher.ExpectAckAsync(PacketType.PubAck)).PacketId);
        Assert.Equal(2, (await publisher.ExpectAckAsync(PacketType.PubRec)).PacketId);
        Assert.Equal(3, (await publisher.ExpectAckAsync(PacketType.PubAck)).PacketId);
        Assert.Equal(2, (await publisher.ExpectAckAsync(PacketType.PubComp)).PacketId);
        Assert.Equal(4, (await publisher.ExpectAckAsync(PacketType.PubRec)).PacketId);
    }

    // 3.1.1 [MQTT-4.4.0-1] / 5.0 [MQTT-4.4.0-1]: unacknowledged messages are resent with DUP on reconnect, in their original order.
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Unacknowledged_messages_are_resent_with_dup_in_order_on_reconnect(MqttProtocolVersion version)
    {
        var subscriber = await PersistentAsync("sub", version);
        await subscriber.SubscribeAsync("r", QualityOfService.ExactlyOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("r", "one");
        await PublishExactlyOnceAsync(publisher, "r", "two");
        await PublishExactlyOnceAsync(publisher, "r", "three");

        var one = await subscriber.ExpectPublishAsync();
        var two = await subscriber.ExpectPublishAsync();
        var three = await subscriber.ExpectPublishAsync();
        Assert.Equal(QualityOfService.AtLeastOnce, one.QualityOfService);
        Assert.Equal(QualityOfService.ExactlyOnce, two.QualityOfService);
        Assert.Equal(QualityOfService.ExactlyOnce, three.QualityOfService);

        // "two" reaches PUBREC (so PUBREL is what is owed); "one" and "three" stay unacknowledged.
        await subscriber.SendAsync(new AckPacket(PacketType.PubRec, two.PacketId));
        Assert.Equal(two.PacketId, (await subscriber.ExpectAckAsync(PacketType.PubRel)).PacketId);
        await subscriber.DropAsync();

        await using var again = await PersistentAsync("sub", version);
        Assert.True(again.LastConnAck!.SessionPresent);

        var resentOne = await again.ExpectPublishAsync();
        Assert.Equal(("one", one.PacketId, true), (resentOne.PayloadText, resentOne.PacketId, resentOne.Duplicate));
        Assert.Equal(two.PacketId, (await again.ExpectAckAsync(PacketType.PubRel)).PacketId);
        var resentThree = await again.ExpectPublishAsync();
        Assert.Equal(("three", three.PacketId, true), (resentThree.PayloadText, resentThree.PacketId, resentThree.Duplicate));
    }

    // Persistent sessions keep subscriptions and queue QoS 1/2 while offline; the queue goes out before live traffic.
    [Fact]
    public async Task Offline_queue_is_delivered_on_reconnect_before_live_messages()
    {
        var subscriber = await PersistentAsync("sub");
        await subscriber.SubscribeAsync("q/#", QualityOfService.AtLeastOnce);
        await subscriber.DisconnectAsync();

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        for (var i = 0; i < 5; i++)
        {
            await publisher.PublishAndWaitAsync("q/" + i, "offline-" + i);
        }

        await publisher.PublishAsync("q/zero", "qos0 while offline");
        await publisher.PublishAndWaitAsync("q/fence", "offline-5");
        Assert.Equal(6, _broker.FindSession("sub")!.QueuedMessages);

        await using var again = await PersistentAsync("sub");
        await publisher.PublishAndWaitAsync("q/live", "live");
        for (var i = 0; i <= 5; i++)
        {
            var message = await again.ExpectPublishAsync();
            Assert.Equal("offline-" + i, message.PayloadText);
            await again.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        }

        Assert.Equal("live", (await again.ExpectPublishAsync()).PayloadText);
    }

    [Fact]
    public async Task Qos0_is_queued_offline_only_when_configured()
    {
        await UseBrokerAsync(o => o.QueueQoS0WhileOffline = true);
        var subscriber = await PersistentAsync("sub");
        await subscriber.SubscribeAsync("zero");
        await subscriber.DisconnectAsync();

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("zero", "kept");

        await using var again = await PersistentAsync("sub");
        Assert.Equal("kept", (await again.ExpectPublishAsync()).PayloadText);
    }

    // 3.1.1 [MQTT-3.1.2-6] / 5.0 [MQTT-3.1.2-4]: clean start discards the old session; session present is 0.
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Clean_start_discards_the_previous_session(MqttProtocolVersion version)
    {
        var subscriber = await PersistentAsync("sub", version);
        await subscriber.SubscribeAsync("gone", QualityOfService.AtLeastOnce);
        await subscriber.DisconnectAsync();

        await using var clean = await PipeClient.ConnectAsync(_broker, "sub", version, cleanStart: true);

        Assert.False(clean.LastConnAck!.SessionPresent);
        Assert.Equal(0, _broker.Subscriptions.Count);
        Assert.True(_broker.Subscriptions.IsEmpty);
    }

    // 3.1.1 Clean Session 1 and 5.0 Session Expiry 0: the session ends with the connection.
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Session_without_expiry_ends_with_the_connection(MqttProtocolVersion version)
    {
        var client = await PipeClient.ConnectAsync(_broker, "short", version, cleanStart: version == MqttProtocolVersion.V311);
        await client.SubscribeAsync("x");
        await client.DropAsync();

        Assert.Null(_broker.FindSession("short"));
        Assert.True(_broker.Subscriptions.IsEmpty);
    }

    [Fact]
    public async Task Session_expires_after_its_expiry_interval_in_5()
    {
        var client = await PipeClient.ConnectAsync(_broker, "brief", MqttProtocolVersion.V500, cleanStart: false,
            properties: new MqttProperties { SessionExpiryInterval = 1 });
        await client.SubscribeAsync("x");
        await client.DisconnectAsync();
        Assert.NotNull(_broker.FindSession("brief"));

        await Poll.UntilAsync(() => _broker.FindSession("brief") is null);
        Assert.True(_broker.Subscriptions.IsEmpty);
    }

    [Fact]
    public async Task Persistent_311_session_is_removed_after_the_configured_lifetime()
    {
        await UseBrokerAsync(o => o.PersistentSessionLifetime = TimeSpan.FromSeconds(1));
        var client = await PersistentAsync("old");
        await client.DisconnectAsync();
        Assert.NotNull(_broker.FindSession("old"));

        await Poll.UntilAsync(() => _broker.FindSession("old") is null);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, null)]
    [InlineData(MqttProtocolVersion.V500, (ushort)1)]
    public async Task In_flight_window_holds_back_further_messages_until_acknowledged(MqttProtocolVersion version, ushort? receiveMaximum)
    {
        await UseBrokerAsync(o => o.MaximumInflightMessages = 2);
        var window = receiveMaximum ?? 2;
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", version,
            properties: receiveMaximum is null ? null : new MqttProperties { ReceiveMaximum = receiveMaximum });
        await subscriber.SubscribeAsync("w", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        for (var i = 0; i < 4; i++)
        {
            await publisher.PublishAndWaitAsync("w", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var first = new List<ReceivedPublish>();
        for (var i = 0; i < window; i++)
        {
            first.Add(await subscriber.ExpectPublishAsync());
        }

        Assert.Equal(4 - window, _broker.FindSession("sub")!.QueuedMessages);
        Assert.Equal(window, _broker.FindSession("sub")!.InflightMessages);

        foreach (var message in first)
        {
            await subscriber.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        }

        for (var i = window; i < 4; i++)
        {
            var message = await subscriber.ExpectPublishAsync();
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), message.PayloadText);
            await subscriber.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        }
    }

    // UNSUBSCRIBE does not cancel QoS 1/2 flows already in flight (3.1.1 [MQTT-3.10.4-3], 5.0 [MQTT-3.10.4-3]).
    [Fact]
    public async Task Unsubscribe_lets_in_flight_flows_complete()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub");
        await subscriber.SubscribeAsync("f", QualityOfService.ExactlyOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("f", "in flight");

        var message = await subscriber.ExpectPublishAsync();
        await subscriber.UnsubscribeAsync("f");
        await subscriber.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));

        await Poll.UntilAsync(() => _broker.FindSession("sub")!.InflightMessages == 0);
    }

    [Fact]
    public async Task Queue_limit_by_count_drops_and_counts()
    {
        await UseBrokerAsync(o => o.MaximumQueuedMessages = 3);
        var subscriber = await PersistentAsync("sub");
        await subscriber.SubscribeAsync("lim", QualityOfService.AtLeastOnce);
        await subscriber.DisconnectAsync();

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        for (var i = 0; i < 5; i++)
        {
            await publisher.PublishAndWaitAsync("lim", "m" + i);
        }

        Assert.Equal(3, _broker.FindSession("sub")!.QueuedMessages);
        Assert.Equal(2, _broker.Statistics.MessagesDropped);

        await using var again = await PersistentAsync("sub");
        for (var i = 0; i < 3; i++)
        {
            var message = await again.ExpectPublishAsync();
            Assert.Equal("m" + i, message.PayloadText);
            await again.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        }
    }

    [Fact]
    public async Task Queue_limit_by_bytes_drops_the_oldest_qos0_first()
    {
        await UseBrokerAsync(o =>
        {
            o.QueueQoS0WhileOffline = true;
            o.MaximumQueuedBytes = 3 * 1_010;
        });
        var subscriber = await PersistentAsync("sub");
        await subscriber.SubscribeAsync("bytes", QualityOfService.AtLeastOnce);
        await subscriber.DisconnectAsync();

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        var kilobyte = new string('k', 1_000);
        await publisher.PublishAsync("bytes", "0" + kilobyte);
        await publisher.PublishAndWaitAsync("bytes", "1" + kilobyte);
        await publisher.PublishAndWaitAsync("bytes", "2" + kilobyte);
        await publisher.PublishAndWaitAsync("bytes", "3" + kilobyte);

        Assert.Equal(3, _broker.FindSession("sub")!.QueuedMessages);
        Assert.Equal(1, _broker.Statistics.MessagesDropped);

        await using var again = await PersistentAsync("sub");
        foreach (var expected in new[] { '1', '2', '3' })
        {
            var message = await again.ExpectPublishAsync();
            Assert.Equal(expected, message.PayloadText[0]);
            await again.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        }
    }

    // 5.0 [MQTT-3.1.2-25]: a message larger than the client's Maximum Packet Size is not sent to it.
    [Fact]
    public async Task Messages_over_the_clients_maximum_packet_size_are_skipped()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "small", MqttProtocolVersion.V500,
            properties: new MqttProperties { MaximumPacketSize = 100 });
        await subscriber.SubscribeAsync("size/#", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        await publisher.PublishAndWaitAsync("size/big", new string('b', 200));
        await publisher.PublishAndWaitAsync("size/small", "fits");

        var message = await subscriber.ExpectPublishAsync();
        Assert.Equal("fits", message.PayloadText);
        await subscriber.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        await Poll.UntilAsync(() => _broker.FindSession("small")!.InflightMessages == 0);
    }

    // A subscriber that stops reading fills its own queue and is disconnected; a fast one gets everything.
    [Fact]
    public async Task Stuck_subscriber_never_slows_a_fast_one()
    {
        await UseBrokerAsync(o =>
        {
            o.MaximumQueuedMessages = 200;
            o.StuckClientTimeout = TimeSpan.FromSeconds(2);
        });

        // The stuck client's pipe holds at most 4 KB and nobody reads it.
        var tiny = new PipeOptions(pauseWriterThreshold: 4_096, resumeWriterThreshold: 2_048);
        var stuck = PipeClient.OpenWithoutReading(_broker, tiny);
        await stuck.SendAsync(new ConnectPacket { ClientId = "stuck", CleanStart = true });
        await stuck.SendAsync(new SubscribePacket { PacketId = 1, Subscriptions = [new("load/#", new(QualityOfService.AtMostOnce))] });

        // It cannot read its SUBACK: wait until the broker has handled the SUBSCRIBE, or under load all the
        // publishing below may happen before it.
        await Poll.UntilAsync(() => _broker.FindSession("stuck")?.SubscriptionCount == 1);

        await using var fast = await PipeClient.ConnectAsync(_broker, "fast");
        await fast.SubscribeAsync("load/#");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");

        // Batches of 50, each read by the fast subscriber before the next: it never falls behind,
        // while the stuck one's queue overflows.
        var payload = new string('p', 200);
        for (var batch = 0; batch < 20; batch++)
        {
            for (var i = 0; i < 50; i++)
            {
                await publisher.PublishAsync($"load/{batch}/{i}", payload);
            }

            for (var i = 0; i < 50; i++)
            {
                Assert.Equal($"load/{batch}/{i}", (await fast.ExpectPublishAsync()).Topic);
            }
        }

        await stuck.ServerTask.WaitAsync(PipeClient.Timeout);
        Assert.True(_broker.Statistics.MessagesDropped > 0);
        Assert.True(_broker.Statistics.StuckClientsDisconnected >= 1);
        Assert.Equal(_broker.Statistics.StuckClientsDisconnected, _broker.Statistics.ConnectionsClosed(ConnectionCloseReason.Stuck));
        Assert.Null(_broker.FindSession("stuck"));
        Assert.True(_broker.FindSession("fast")!.IsConnected);
    }

    // A takeover continues the session: nothing in flight or queued is lost [MQTT-3.1.4-3] (3.1.1 [MQTT-3.1.4-2]).
    [Fact]
    public async Task Takeover_keeps_every_message_in_flight_or_queued()
    {
        var first = await PersistentAsync("device", MqttProtocolVersion.V500);
        await first.SubscribeAsync("stream", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        for (var i = 0; i < 50; i++)
        {
            await publisher.PublishAndWaitAsync("stream", "m" + i);
        }

        // The first connection received some but acknowledged none; more arrive during the takeover.
        await first.ExpectPublishAsync();
        var publishing = Task.Run(async () =>
        {
            for (var i = 50; i < 100; i++)
            {
                await publisher.PublishAndWaitAsync("stream", "m" + i);
            }
        });
        await using var second = await PersistentAsync("device", MqttProtocolVersion.V500);
        await first.ExpectClosedAsync();
        await publishing.WaitAsync(PipeClient.Timeout);

        var seen = new HashSet<string>();
        while (seen.Count < 100)
        {
            var message = await second.ExpectPublishAsync();
            seen.Add(message.PayloadText);
            await second.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        }

        await Poll.UntilAsync(() => _broker.FindSession("device") is { InflightMessages: 0, QueuedMessages: 0 });
        Assert.Equal(Enumerable.Range(0, 100).Select(i => "m" + i).ToHashSet(), seen);
        await first.DisposeAsync();
    }

    // 3.1.1 [MQTT-3.1.2-6]: a clean session's state is never reused, even by a connection that takes it over.
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_clean_session_taken_over_is_not_resumed(MqttProtocolVersion version)
    {
        await using var clean = await PipeClient.ConnectAsync(_broker, "device", version, cleanStart: true);
        await clean.SubscribeAsync("t", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        await publisher.PublishAndWaitAsync("t", "unacknowledged");
        await clean.ExpectPublishAsync();

        await using var successor = await PipeClient.ConnectAsync(_broker, "device", version, cleanStart: false,
            properties: version == MqttProtocolVersion.V500 ? new MqttProperties { SessionExpiryInterval = 60 } : null);

        Assert.False(successor.LastConnAck!.SessionPresent);
        await successor.SubscribeAsync("marker");
        await publisher.PublishAndWaitAsync("marker", "end");
        Assert.Equal("marker", (await successor.ExpectPublishAsync()).Topic);
    }

    private static async Task PublishExactlyOnceAsync(MqttTestClient publisher, string topic, string payload)
    {
        var id = await publisher.PublishAsync(topic, payload, QualityOfService.ExactlyOnce);
        Assert.Equal(id, (await publisher.ExpectAckAsync(PacketType.PubRec)).PacketId);
        await publisher.SendAsync(new AckPacket(PacketType.PubRel, id));
        Assert.Equal(id, (await publisher.ExpectAckAsync(PacketType.PubComp)).PacketId);
    }
}
