using System.Globalization;
using System.IO.Pipelines;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// Sessions whose queues are full (offline devices, a subscriber that stopped reading) cost the others
/// nothing: a live pair gets every message, the full sessions are shown and their drops counted and logged
/// (issue 26).
/// </summary>
public sealed class FullQueueTests : IAsyncLifetime
{
    private const int QueueLimit = 50;

    private readonly CapturingLogger<MqttBroker> _log = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private MqttBroker _broker = null!;

    public Task InitializeAsync()
    {
        _broker = TestBroker.Start(o =>
        {
            o.MaximumQueuedMessages = QueueLimit;
            o.StuckClientTimeout = TimeSpan.FromHours(1);
        }, _time, _log);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    private static string Text(int i) => i.ToString(CultureInfo.InvariantCulture);

    private int QueueFullLines(string clientId) =>
        _log.Lines.Count(l => l.StartsWith($"Queue of client {clientId} is full", StringComparison.Ordinal));

    [Fact]
    public async Task Offline_sessions_with_full_queues_do_not_hold_up_a_live_pair()
    {
        const int Offline = 40;
        const int Messages = 1_000;
        for (var i = 0; i < Offline; i++)
        {
            await using var device = await PipeClient.ConnectAsync(_broker, $"device-{i}", cleanStart: false);
            await device.SubscribeAsync("bench/#", QualityOfService.AtLeastOnce);
            await device.DisconnectAsync();
        }

        await using var subscriber = await PipeClient.ConnectAsync(_broker, "live-sub");
        await subscriber.SubscribeAsync("bench/0", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "live-pub");

        // Rounds of 20, each delivered before the next: the live subscriber's own queue (50) never fills.
        // [MQTT-4.6.0-5] (3.1.1 §4.6): one publisher, one topic, one QoS: in the order published.
        for (var round = 0; round < Messages / 20; round++)
        {
            for (var i = 0; i < 20; i++)
            {
                await publisher.PublishAsync("bench/0", Text(round * 20 + i), QualityOfService.AtLeastOnce);
            }

            for (var i = 0; i < 20; i++)
            {
                var message = await subscriber.ExpectPublishAsync();
                Assert.Equal(Text(round * 20 + i), message.PayloadText);
                await subscriber.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
                await publisher.ExpectAckAsync(PacketType.PubAck);
            }
        }

        Assert.Equal(Offline * (Messages - QueueLimit), _broker.Statistics.Dropped(DropReason.QueueFull));
        var sessions = _broker.GetSessions();
        Assert.Equal(Offline, sessions.Count(s => s.QueueFull));
        Assert.All(sessions.Where(s => s.ClientId.StartsWith("device-", StringComparison.Ordinal)), s =>
        {
            Assert.Equal(QueueLimit, s.QueuedMessages);
            Assert.Equal(Messages - QueueLimit, _broker.ReadSession(s).QueueFullDrops);
        });
        Assert.False(_broker.GetSession("live-sub")!.Value.QueueFull);

        // Logged once per session, not once per message.
        Assert.Equal(1, QueueFullLines("device-0"));
    }

    [Fact]
    public async Task A_stuck_subscriber_does_not_hold_up_a_live_pair_and_is_logged_once_a_minute()
    {
        // The stuck client's pipe holds at most 4 KB and nobody reads it: its write loop waits on its flush.
        var tiny = new PipeOptions(pauseWriterThreshold: 4_096, resumeWriterThreshold: 2_048);
        var stuck = PipeClient.OpenWithoutReading(_broker, tiny);
        await stuck.SendAsync(new ConnectPacket { ClientId = "stuck", CleanStart = true });
        await stuck.SendAsync(new SubscribePacket { PacketId = 1, Subscriptions = [new("bench/#", new(QualityOfService.AtMostOnce))] });
        await Poll.UntilAsync(() => _broker.FindSession("stuck")?.SubscriptionCount == 1);

        await using var subscriber = await PipeClient.ConnectAsync(_broker, "live-sub");
        await subscriber.SubscribeAsync("bench/0");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "live-pub");

        // Rounds of 20, each read by the live subscriber before the next: it never falls behind (its own queue
        // holds 50), while the stuck one's queue fills and then drops its oldest for each new message.
        var payload = new string('p', 200);
        for (var round = 0; round < 50; round++)
        {
            if (round == 25)
            {
                Assert.Equal(1, QueueFullLines("stuck"));
                _time.Advance(TimeSpan.FromSeconds(61));
            }

            for (var i = 0; i < 20; i++)
            {
                await publisher.PublishAsync("bench/0", payload);
            }

            for (var i = 0; i < 20; i++)
            {
                await subscriber.ExpectPublishAsync();
            }
        }

        var session = _broker.GetSession("stuck")!.Value;
        Assert.True(session.IsConnected);
        Assert.True(session.QueueFull);
        Assert.Equal(QueueLimit, session.QueuedMessages);
        Assert.Equal(session.QueueFullDrops, _broker.Statistics.Dropped(DropReason.QueueFull));
        Assert.InRange(session.QueueFullDrops, 1, 1_000 - QueueLimit);

        // A minute later, still full: one more line.
        Assert.Equal(2, QueueFullLines("stuck"));
        await stuck.DisposeAsync();
    }

    [Fact]
    public async Task A_full_queue_is_no_longer_full_once_its_client_takes_from_it()
    {
        await using (var device = await PipeClient.ConnectAsync(_broker, "device", cleanStart: false))
        {
            await device.SubscribeAsync("cmd", QualityOfService.AtLeastOnce);
            await device.DisconnectAsync();
        }

        await using (var publisher = await PipeClient.ConnectAsync(_broker, "pub"))
        {
            for (var i = 0; i <= QueueLimit; i++)
            {
                await publisher.PublishAndWaitAsync("cmd", "c" + i);
            }
        }

        Assert.True(_broker.GetSession("device")!.Value.QueueFull);

        await using var back = await PipeClient.ConnectAsync(_broker, "device", cleanStart: false);
        for (var i = 0; i < QueueLimit; i++)
        {
            var message = await back.ExpectPublishAsync();
            Assert.Equal("c" + i, message.PayloadText);
            await back.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        }

        await Poll.UntilAsync(() => _broker.GetSession("device") is { QueuedMessages: 0, InflightMessages: 0 });
        Assert.False(_broker.GetSession("device")!.Value.QueueFull);
        Assert.Equal(1, _broker.GetSession("device")!.Value.QueueFullDrops);
    }
}
