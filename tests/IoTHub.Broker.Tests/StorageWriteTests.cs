using IoTHub.Broker.Storage;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// What the engine writes to storage, and what it does not. <c>$SYS</c> messages are recomputed from the start: they are retained in memory and delivered, never written
/// to storage, where every tick would cost a commit and a restart would read back stale figures (issue 14, defect 5).
/// </summary>
public sealed class StorageWriteTests
{
    [Fact]
    public async Task Sys_messages_are_retained_and_delivered_but_never_stored()
    {
        var store = new MemoryBrokerStore();
        await using var writer = new StorageWriter(store, StorageDurability.Strict);
        await using (var broker = new MqttBroker(new BrokerOptions { MonitorInterval = TimeSpan.FromMilliseconds(20), SysInterval = TimeSpan.FromMilliseconds(50) }))
        {
            broker.AttachStorage(writer, new StoredState());
            broker.Start();
            await using var client = await PipeClient.ConnectAsync(broker, "watcher");
            await client.SubscribeAsync("$SYS/broker/uptime");

            // Three rounds of $SYS: the retained one at SUBSCRIBE and two more published live.
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal("$SYS/broker/uptime", (await client.ExpectPublishAsync()).Topic);
            }

            Assert.NotNull(broker.Retained.Get("$SYS/broker/clients/total"));

            // A retained message of a client, acknowledged once committed: everything routed before it went to the writer too.
            await using var publisher = await PipeClient.ConnectAsync(broker, "publisher");
            await publisher.PublishAndWaitAsync("state", "stored", retain: true);
        }

        var stored = await store.LoadAsync();
        Assert.Equal("state", Assert.Single(stored.Retained).Topic);
    }

    // Issue 14, defect 6: the time a client went offline is the broker's clock, not the machine's, in storage too
    // (it decides when a restored session expires).
    [Fact]
    public async Task The_time_a_client_went_offline_is_stored_from_the_brokers_clock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2031, 2, 3, 4, 5, 6, TimeSpan.Zero));
        var store = new MemoryBrokerStore();
        await using var writer = new StorageWriter(store, StorageDurability.Strict);
        await using (var broker = new MqttBroker(new BrokerOptions(), time: time))
        {
            broker.AttachStorage(writer, new StoredState());
            broker.Start();
            var device = await PipeClient.ConnectAsync(broker, "device", cleanStart: false);
            await device.SubscribeAsync("cmd", QualityOfService.AtLeastOnce);
            await device.DisconnectAsync();
            await Poll.UntilAsync(() => broker.FindSession("device") is { IsConnected: false });
        }

        // Closing the writer commits what it still holds.
        await writer.DisposeAsync();
        Assert.Equal(time.GetUtcNow(), Assert.Single((await store.LoadAsync()).Sessions).DisconnectedAt);
    }
}
