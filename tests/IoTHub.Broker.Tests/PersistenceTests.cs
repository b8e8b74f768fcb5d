using System.Diagnostics;
using System.Diagnostics.Metrics;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>The engine over a real file store: what was acknowledged survives a restart of the broker.</summary>
public sealed class PersistenceTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "iothub-persistence-" + Guid.NewGuid().ToString("N"));
    private FileBrokerStore? _store;
    private StorageWriter? _writer;
    private MqttBroker? _broker;

    public Task InitializeAsync() => StartAsync();

    public async Task DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task StartAsync()
    {
        _store = FileBrokerStore.Open(_directory, StorageDurability.Strict);
        _writer = new StorageWriter(_store, StorageDurability.Strict);
        _broker = new MqttBroker(new BrokerOptions { MonitorInterval = TimeSpan.FromMilliseconds(50) });
        _broker.AttachStorage(_writer, await _store.LoadAsync());
        _broker.Start();
    }

    private async Task StopAsync()
    {
        await _broker!.DisposeAsync();
        await _writer!.DisposeAsync();
        await _store!.DisposeAsync();
    }

    private async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    [Fact]
    public async Task Queued_messages_retained_messages_and_subscriptions_survive_a_restart()
    {
        var subscriber = await PipeClient.ConnectAsync(_broker!, "device", cleanStart: false);
        await subscriber.SubscribeAsync("commands/#", QualityOfService.ExactlyOnce);
        await subscriber.DisconnectAsync();
        await using (var publisher = await PipeClient.ConnectAsync(_broker!, "pub"))
        {
            for (var i = 0; i < 10; i++)
            {
                await publisher.PublishAndWaitAsync("commands/" + i, "c" + i);
            }

            await publisher.PublishAndWaitAsync("state", "kept", retain: true);
        }

        await RestartAsync();

        await using var again = await PipeClient.ConnectAsync(_broker!, "device", cleanStart: false);
        Assert.True(again.LastConnAck!.SessionPresent);
        for (var i = 0; i < 10; i++)
        {
            var message = await again.ExpectPublishAsync();
            Assert.Equal("c" + i, message.PayloadText);
            await again.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
        }

        Assert.Equal("kept", System.Text.Encoding.UTF8.GetString(_broker!.Retained.Get("state")!.Payload.Span));
        await using var publisher2 = await PipeClient.ConnectAsync(_broker!, "pub2");
        await publisher2.PublishAndWaitAsync("commands/live", "after restart");
        Assert.Equal("after restart", (await again.ExpectPublishAsync()).PayloadText);
    }

    // Exactly once across a restart: the QoS 2 packet id received before it is remembered afterwards [MQTT-4.3.3-10].
    [Fact]
    public async Task A_qos2_publish_resent_after_a_restart_is_not_delivered_twice()
    {
        var subscriber = await PipeClient.ConnectAsync(_broker!, "device", cleanStart: false);
        await subscriber.SubscribeAsync("once", QualityOfService.ExactlyOnce);
        await subscriber.DisconnectAsync();
        var publisher = await PipeClient.ConnectAsync(_broker!, "pub", cleanStart: false);
        await publisher.PublishAsync("once", "exactly", QualityOfService.ExactlyOnce, packetId: 5);
        await publisher.ExpectAckAsync(PacketType.PubRec);
        await publisher.DropAsync();

        await RestartAsync();

        // The publisher never saw PUBCOMP, so it resends the PUBLISH with DUP, then PUBREL.
        await using var again = await PipeClient.ConnectAsync(_broker!, "pub", cleanStart: false);
        await again.PublishAsync("once", "exactly", QualityOfService.ExactlyOnce, packetId: 5, duplicate: true);
        Assert.Equal(5, (await again.ExpectAckAsync(PacketType.PubRec)).PacketId);
        await again.SendAsync(new AckPacket(PacketType.PubRel, 5));
        Assert.Equal(5, (await again.ExpectAckAsync(PacketType.PubComp)).PacketId);
        await again.PublishAndWaitAsync("once", "marker");

        await using var device = await PipeClient.ConnectAsync(_broker!, "device", cleanStart: false);
        var first = await device.ExpectPublishAsync();
        Assert.Equal("exactly", first.PayloadText);
        await device.SendAsync(new AckPacket(PacketType.PubRec, first.PacketId));
        var second = await device.ExpectPublishAsync();
        Assert.Equal("marker", second.PayloadText);
    }

    [Fact]
    public async Task Unacknowledged_deliveries_are_resent_after_a_restart()
    {
        var subscriber = await PipeClient.ConnectAsync(_broker!, "device", MqttProtocolVersion.V500, cleanStart: false,
            properties: new MqttProperties { SessionExpiryInterval = 3600 });
        await subscriber.SubscribeAsync("jobs", QualityOfService.AtLeastOnce);
        await using (var publisher = await PipeClient.ConnectAsync(_broker!, "pub"))
        {
            await publisher.PublishAndWaitAsync("jobs", "one");
        }

        var unacknowledged = await subscriber.ExpectPublishAsync();
        await subscriber.DropAsync();

        await RestartAsync();

        await using var again = await PipeClient.ConnectAsync(_broker!, "device", MqttProtocolVersion.V500, cleanStart: false,
            properties: new MqttProperties { SessionExpiryInterval = 3600 });
        var resent = await again.ExpectPublishAsync();
        Assert.Equal(("one", unacknowledged.PacketId, true), (resent.PayloadText, resent.PacketId, resent.Duplicate));
    }

    // Cross-node routing (docs/clustering.md): a retained message another node forwarded is kept here for new subscribers, in
    // memory only, since the node it was published on stored it in the store the nodes share; an empty one deletes it here.
    [Fact]
    public async Task A_retained_message_from_another_node_is_kept_in_memory_but_not_stored()
    {
        var stored = MqttMessage.Create("kept/local", "here"u8, QualityOfService.AtLeastOnce, retain: true);
        await _broker!.SetRetainedAsync(stored);
        _broker.RouteForwarded(MqttMessage.Create("kept/remote", "there"u8, QualityOfService.AtLeastOnce, retain: true, publisherId: "far"),
            toSubscribers: true, sharedGroups: []);
        _broker.RouteForwarded(MqttMessage.Create("kept/gone", "x"u8, QualityOfService.AtMostOnce, retain: true), toSubscribers: false, sharedGroups: []);
        _broker.RouteForwarded(MqttMessage.Create("kept/gone", ""u8, QualityOfService.AtMostOnce, retain: true), toSubscribers: false, sharedGroups: []);

        var remote = _broker.Retained.Get("kept/remote");
        Assert.NotNull(remote);
        Assert.Equal("there"u8.ToArray(), remote.Payload.ToArray());
        Assert.Equal("far", remote.PublisherId);
        Assert.NotNull(remote.StoredAt);
        Assert.Null(_broker.Retained.Get("kept/gone"));

        await RestartAsync();
        Assert.NotNull(_broker.Retained.Get("kept/local"));
        Assert.Null(_broker.Retained.Get("kept/remote"));
    }

    [Fact]
    public async Task A_session_without_expiry_leaves_nothing_behind()
    {
        var client = await PipeClient.ConnectAsync(_broker!, "short", cleanStart: true);
        await client.SubscribeAsync("x", QualityOfService.AtLeastOnce);
        await client.DisconnectAsync();

        await RestartAsync();

        Assert.Null(_broker!.FindSession("short"));
        Assert.Equal(0, _broker.Subscriptions.Count);
    }
}

/// <summary>When storage fails, nothing is acknowledged that was not stored.</summary>
public sealed class StorageFailureTests
{
    [Fact]
    public async Task A_failed_commit_is_never_acknowledged()
    {
        var store = new FailingStore();
        await using var writer = new StorageWriter(store, StorageDurability.Strict);
        await using var broker = new MqttBroker(new BrokerOptions());
        broker.AttachStorage(writer, new StoredState());
        broker.Start();

        await using (var offline = await PipeClient.ConnectAsync(broker, "offline", cleanStart: false))
        {
            await offline.SubscribeAsync("t", QualityOfService.AtLeastOnce);
        }

        store.Fail = true;
        await using var publisher = await PipeClient.ConnectAsync(broker, "pub", MqttProtocolVersion.V500);
        await publisher.PublishAsync("t", "must be stored", QualityOfService.AtLeastOnce);

        var packets = await publisher.DrainUntilClosedAsync();
        Assert.DoesNotContain(packets, p => p.Type == PacketType.PubAck);
        Assert.Equal(ReasonCode.UnspecifiedError, Assert.IsType<DisconnectPacket>(Assert.Single(packets).Control).ReasonCode);
        Assert.Equal(1, broker.Statistics.ConnectionsClosed(ConnectionCloseReason.StorageError));
    }

    [Fact]
    public async Task Each_committed_batch_records_its_duration_once_and_a_failed_one_none()
    {
        using var meter = new Meter("IoTHub.Broker.Tests.Commits");
        var histogram = meter.CreateHistogram<double>("commit", "s");
        using var recorder = new HistogramRecorder(histogram, "provider");
        var store = new FailingStore();
        await using var writer = new StorageWriter(store, StorageDurability.Strict);
        writer.RecordCommitDurationIn(histogram, new TagList { { "broker", "test" }, { "provider", "failing" } });

        // Strict writes awaited one by one: a batch each.
        for (var i = 0; i < 3; i++)
        {
            await writer.WriteAsync(StorageOperation.DeleteRetained("t" + i));
        }

        store.Fail = true;
        await Assert.ThrowsAsync<IOException>(async () => await writer.WriteAsync(StorageOperation.DeleteRetained("lost")));

        var recorded = recorder.Recorded();
        Assert.Equal(3, recorded.Count);
        Assert.Equal(writer.CommittedBatches, recorded.Count);
        Assert.All(recorded, static r => Assert.Equal(("failing", 2), (r.Tag, r.TagCount)));
        Assert.All(recorded, static r => Assert.InRange(r.Value, 0, PipeClient.Timeout.TotalSeconds));
        Assert.Equal(1, writer.FailedBatches);
    }

    // A persistent QoS 2 publisher whose PUBLISH could not be stored sends it again after reconnecting: it is routed and
    // stored then, and its PUBREC waits for that commit; it was not taken for a duplicate of a message that is on disk.
    [Fact]
    public async Task A_qos2_publish_that_could_not_be_stored_is_stored_when_sent_again()
    {
        var store = new FailingStore();
        await using var writer = new StorageWriter(store, StorageDurability.Strict);
        await using var broker = new MqttBroker(new BrokerOptions());
        broker.AttachStorage(writer, new StoredState());
        broker.Start();
        await using (var offline = await PipeClient.ConnectAsync(broker, "offline", cleanStart: false))
        {
            await offline.SubscribeAsync("t", QualityOfService.ExactlyOnce);
        }

        store.Fail = true;
        await using (var publisher = await PipeClient.ConnectAsync(broker, "pub", cleanStart: false))
        {
            await publisher.PublishAsync("t", "exactly", QualityOfService.ExactlyOnce, packetId: 9);
            Assert.DoesNotContain(await publisher.DrainUntilClosedAsync(), p => p.Type == PacketType.PubRec);
        }

        store.Fail = false;
        await using (var again = await PipeClient.ConnectAsync(broker, "pub", cleanStart: false))
        {
            await again.PublishAsync("t", "exactly", QualityOfService.ExactlyOnce, packetId: 9, duplicate: true);
            Assert.Equal(9, (await again.ExpectAckAsync(PacketType.PubRec)).PacketId);
        }

        // On disk once: the copy routed by the failed attempt was never stored.
        var stored = await store.LoadAsync();
        var queued = Assert.Single(Assert.Single(stored.Sessions, static s => s.ClientId == "offline").Queued);
        Assert.Equal("exactly", System.Text.Encoding.UTF8.GetString(queued.Message.Payload.Span));
        Assert.Contains((ushort)9, Assert.Single(stored.Sessions, static s => s.ClientId == "pub").IncomingQos2);
    }

    /// <summary>A real (in-memory) store whose commits can be made to fail, as a full disk would.</summary>
    private sealed class FailingStore : IBrokerStore
    {
        private readonly MemoryBrokerStore _inner = new();

        public volatile bool Fail;

        public Task<StoredState> LoadAsync(CancellationToken cancellationToken = default) => _inner.LoadAsync(cancellationToken);

        public Task CommitAsync(ReadOnlyMemory<StorageOperation> batch, CancellationToken cancellationToken = default) =>
            Fail ? Task.FromException(new IOException("No space left on device")) : _inner.CommitAsync(batch, cancellationToken);

        public ValueTask DisposeAsync() => _inner.DisposeAsync();
    }
}
