using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// The Message Expiry Interval of stored messages (queued, in flight, retained, delayed wills) goes on counting across a
/// restart of the broker, also the time it was down: on a fake clock that the test moves while the broker is stopped.
/// </summary>
public sealed class ExpiryPersistenceTests : IAsyncLifetime
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;
    private static readonly MqttProperties Persistent = new() { SessionExpiryInterval = 3600 };

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "iothub-expiry-" + Guid.NewGuid().ToString("N"));
    private readonly StorageModel _memory = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private IBrokerStore? _store;
    private StorageWriter? _writer;
    private MqttBroker? _broker;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await StopAsync();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    // [MQTT-3.3.2-5]: a message whose expiry passed (while the broker was down) is not delivered.
    // [MQTT-3.3.2-6]: the others carry the time left, counted from their publication, down time included.
    [Theory]
    [InlineData("file")]
    [InlineData("memory")]
    public async Task Expiry_of_queued_in_flight_and_retained_messages_counts_on_across_a_restart(string provider)
    {
        await StartAsync(provider);
        var subscriber = await PipeClient.ConnectAsync(_broker!, "device", V5, cleanStart: false, properties: Persistent);
        await subscriber.SubscribeAsync("jobs/#", QualityOfService.AtLeastOnce);
        await using (var publisher = await PipeClient.ConnectAsync(_broker!, "pub", V5))
        {
            await PublishAsync(publisher, "jobs/sent", expiry: 3600);
            var unacknowledged = await subscriber.ExpectPublishAsync();
            Assert.Equal("jobs/sent", unacknowledged.Topic);
            await subscriber.DropAsync();
            await PublishAsync(publisher, "jobs/short", expiry: 5);
            await PublishAsync(publisher, "jobs/long", expiry: 3600);
            await PublishAsync(publisher, "jobs/forever", expiry: null);
            await PublishAsync(publisher, "state/short", expiry: 5, retain: true);
            await PublishAsync(publisher, "state/long", expiry: 3600, retain: true);
        }

        await StopAsync();
        _time.Advance(TimeSpan.FromSeconds(10));
        await StartAsync(provider);

        await using (var again = await PipeClient.ConnectAsync(_broker!, "device", V5, cleanStart: false, properties: Persistent))
        {
            var resent = await again.ExpectPublishAsync();
            Assert.Equal(("jobs/sent", true, 3590u), (resent.Topic, resent.Duplicate, resent.Properties.MessageExpiryInterval));
            var queued = await again.ExpectPublishAsync();
            Assert.Equal(("jobs/long", 3590u), (queued.Topic, queued.Properties.MessageExpiryInterval));
            var forever = await again.ExpectPublishAsync();
            Assert.Equal(("jobs/forever", (uint?)null), (forever.Topic, forever.Properties.MessageExpiryInterval));
            foreach (var message in new[] { resent, queued, forever })
            {
                await again.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
            }

            Assert.Equal(1, _broker!.Statistics.Dropped(DropReason.Expired));
            Assert.Null(_broker.Retained.Get("state/short"));
            await using var viewer = await PipeClient.ConnectAsync(_broker, "viewer", V5);
            await viewer.SubscribeAsync("state/#");
            var retained = await viewer.ExpectPublishAsync();
            Assert.Equal(("state/long", 3590u), (retained.Topic, retained.Properties.MessageExpiryInterval));
            await again.DisconnectAsync();
        }

        // The expired queued and retained messages were deleted from storage at the restart, not just skipped.
        await StopAsync();
        var store = OpenStore(provider);
        var state = await store.LoadAsync();
        await store.DisposeAsync();
        Assert.Empty(Assert.Single(state.Sessions).Queued);
        Assert.Equal("state/long", Assert.Single(state.Retained).Topic);
    }

    // 5.0 §3.1.3.2.3: a will's Message Expiry Interval starts when the will is published, not when it was set aside for its
    // delay [MQTT-3.3.2-6]; this holds across a restart too, down time included.
    [Theory]
    [InlineData("file")]
    [InlineData("memory")]
    [InlineData(null)]
    public async Task A_delayed_wills_expiry_starts_when_it_is_published(string? provider)
    {
        await StartAsync(provider);
        var watcher = await PipeClient.ConnectAsync(_broker!, "watcher", V5, cleanStart: false, properties: Persistent);
        await watcher.SubscribeAsync("wills/#", QualityOfService.AtLeastOnce);
        await watcher.DisconnectAsync();
        var dying = PipeClient.Open(_broker!, V5);
        await dying.ConnectAcceptedAsync(new ConnectPacket
        {
            ProtocolVersion = V5,
            ClientId = "dying",
            CleanStart = false,
            Properties = Persistent,
            Will = new WillMessage
            {
                Topic = "wills/dying",
                Payload = "gone"u8.ToArray(),
                QualityOfService = QualityOfService.AtLeastOnce,
                Properties = new MqttProperties { WillDelayInterval = 30, MessageExpiryInterval = 100 },
            },
        });
        await dying.DropAsync();
        Assert.Equal(1, _broker!.PendingWillCount);

        if (provider is not null)
        {
            await StopAsync();
            _time.Advance(TimeSpan.FromSeconds(40));
            await StartAsync(provider);
        }

        // Past its delay: the monitor's next round publishes it.
        _time.Advance(TimeSpan.FromSeconds(provider is null ? 40 : 1));
        await Poll.UntilAsync(() => _broker!.PendingWillCount == 0);

        await using var again = await PipeClient.ConnectAsync(_broker!, "watcher", V5, cleanStart: false, properties: Persistent);
        var will = await again.ExpectPublishAsync();
        Assert.Equal(("wills/dying", 100u), (will.Topic, will.Properties.MessageExpiryInterval));
    }

    private static async Task PublishAsync(MqttTestClient publisher, string topic, uint? expiry, bool retain = false)
    {
        await publisher.PublishAsync(topic, topic, QualityOfService.AtLeastOnce, retain, properties: new MqttProperties { MessageExpiryInterval = expiry });
        await publisher.ExpectAckAsync(PacketType.PubAck);
    }

    /// <summary>Starts the broker on <paramref name="provider"/>'s store; without storage when it is null.</summary>
    private async Task StartAsync(string? provider)
    {
        _broker = new MqttBroker(new BrokerOptions(), time: _time);
        if (provider is not null)
        {
            _store = OpenStore(provider);
            _writer = new StorageWriter(_store, StorageDurability.Strict);
            _broker.AttachStorage(_writer, await _store.LoadAsync());
        }

        _broker.Start();
    }

    private IBrokerStore OpenStore(string provider) =>
        provider == "file" ? FileBrokerStore.Open(_directory, StorageDurability.Strict) : new MemoryBrokerStore(_memory);

    private async Task StopAsync()
    {
        if (_broker is null)
        {
            return;
        }

        await _broker.DisposeAsync();
        _broker = null;
        if (_store is not null)
        {
            await _writer!.DisposeAsync();
            await _store.DisposeAsync();
            _store = null;
        }
    }
}
