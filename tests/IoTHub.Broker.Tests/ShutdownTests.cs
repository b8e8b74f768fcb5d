using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>Stopping a broker: drain, DISCONNECT 0x8B last [MQTT-3.14.4-1], no wills, refusals while stopping.</summary>
public sealed class ShutdownTests : IAsyncLifetime
{
    private readonly MqttBroker _broker = TestBroker.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task Stop_drains_queues_then_sends_0x8B_last_and_fires_no_will()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "sub", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("work", QualityOfService.AtLeastOnce);
        await subscriber.SubscribeAsync("wills/#");
        await using var withWill = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        await withWill.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = "will",
            Will = new WillMessage { Topic = "wills/x", Payload = [1] },
        });
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V311);
        for (var i = 0; i < 50; i++)
        {
            await publisher.PublishAndWaitAsync("work", "m" + i);
        }

        var stopping = _broker.StopAsync(TimeSpan.FromSeconds(10));

        // The subscriber acknowledges as it goes; the broker waits for that before closing.
        for (var i = 0; i < 50; i++)
        {
            var message = await subscriber.ExpectPublishAsync();
            Assert.Equal("m" + i, message.PayloadText);
            await subscriber.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        }

        var last = await subscriber.DrainUntilClosedAsync();
        var disconnect = Assert.IsType<DisconnectPacket>(Assert.Single(last).Control);
        Assert.Equal(ReasonCode.ServerShuttingDown, disconnect.ReasonCode);
        await stopping.WaitAsync(PipeClient.Timeout);
        Assert.Equal(BrokerState.Stopped, _broker.State);
        Assert.Null(_broker.Retained.Get("wills/x"));
        Assert.Equal(0, _broker.PendingWillCount);
    }

    [Fact]
    public async Task While_stopping_connects_are_refused_and_publishes_left_unacknowledged()
    {
        await using var slow = await PipeClient.ConnectAsync(_broker, "slow", MqttProtocolVersion.V500);
        await slow.SubscribeAsync("hold", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500);
        await publisher.PublishAndWaitAsync("hold", "unacknowledged by the subscriber");
        await slow.ExpectPublishAsync();

        var stopping = _broker.StopAsync(TimeSpan.FromSeconds(3));
        Assert.Equal(BrokerState.Draining, _broker.State);

        await using var late = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        var connAck = await late.ConnectRawAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "late" });
        Assert.Equal(ReasonCode.ServerUnavailable, connAck.ReasonCode);

        // Not routed, not acknowledged: the publisher keeps it and resends it after the restart.
        await publisher.PublishAsync("hold", "during drain", QualityOfService.AtLeastOnce);
        var rest = await publisher.DrainUntilClosedAsync();
        Assert.DoesNotContain(rest, p => p.Type == PacketType.PubAck);
        Assert.Equal(ReasonCode.ServerShuttingDown, Assert.IsType<DisconnectPacket>(rest[^1].Control).ReasonCode);
        await stopping.WaitAsync(PipeClient.Timeout);
    }

    [Fact]
    public async Task Sys_topics_report_the_broker_and_change_with_traffic()
    {
        await using var watcher = await PipeClient.ConnectAsync(_broker, "watcher");
        // One SUBSCRIBE: $SYS messages arrive all the time, and SUBACK comes before the retained ones.
        await watcher.SendAsync(new SubscribePacket
        {
            PacketId = 1,
            Subscriptions =
            [
                new("$SYS/broker/clients/connected", new(QualityOfService.AtMostOnce)),
                new("$SYS/broker/publish/messages/received", new(QualityOfService.AtMostOnce)),
                new("$SYS/broker/version", new(QualityOfService.AtMostOnce)),
                new("$SYS/broker/publish/messages/dropped", new(QualityOfService.AtMostOnce)),
            ],
        });
        await watcher.ExpectAsync<SubAckPacket>();

        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub");
        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishAndWaitAsync("traffic", "x");
        }

        // The next round of $SYS messages (every SysInterval) shows two clients and three messages.
        var seen = new Dictionary<string, string>();
        while (!seen.ContainsKey("$SYS/broker/version") || !(seen.GetValueOrDefault("$SYS/broker/clients/connected") == "2" && seen.GetValueOrDefault("$SYS/broker/publish/messages/received") == "3"))
        {
            var message = await watcher.ExpectPublishAsync();
            seen[message.Topic] = message.PayloadText;
        }

        Assert.StartsWith("IoTHub ", seen["$SYS/broker/version"], StringComparison.Ordinal);

        // "dropped" keeps Mosquitto's meaning, messages dropped by queue limits: the three messages that
        // matched no subscriber are counted under no_subscribers (metrics), not here.
        Assert.Equal(3, _broker.Statistics.Dropped(DropReason.NoSubscribers));
        ReceivedPublish dropped;
        do
        {
            dropped = await watcher.ExpectPublishAsync();
        }
        while (dropped.Topic != "$SYS/broker/publish/messages/dropped");

        Assert.Equal("0", dropped.PayloadText);
    }
}
