using IoTHub.Broker.Storage;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// A real full disk: the file store on a 256 KB tmpfs (the test suite runs as root, as CI does). What
/// was acknowledged is stored; what could not be stored is never acknowledged; the broker keeps serving.
/// </summary>
public sealed class DiskFullTests
{
    [TmpfsFact]
    public async Task When_the_disk_fills_nothing_unstored_is_acknowledged_and_the_broker_keeps_serving()
    {
        using var disk = Tmpfs.Mount("256k");
        var directory = Path.Combine(disk.Path, "store");
        var acknowledged = new List<string>();
        await using (var store = FileBrokerStore.Open(directory, StorageDurability.Strict))
        await using (var writer = new StorageWriter(store, StorageDurability.Strict))
        await using (var broker = new MqttBroker(new BrokerOptions { MaximumQueuedMessages = 100_000, MaximumQueuedBytes = long.MaxValue }))
        {
            broker.AttachStorage(writer, await store.LoadAsync());
            broker.Start();
            await using (var offline = await PipeClient.ConnectAsync(broker, "offline", cleanStart: false))
            {
                await offline.SubscribeAsync("fill", QualityOfService.AtLeastOnce);
            }

            // 4 KB messages until the disk is full: the broker then closes the publisher (5.0: 0x80) without PUBACK.
            await using var publisher = await PipeClient.ConnectAsync(broker, "filler", MqttProtocolVersion.V500);
            var payload = new string('f', 4_000);
            while (true)
            {
                var text = acknowledged.Count + payload;
                await publisher.PublishAsync("fill", text, QualityOfService.AtLeastOnce);
                var answer = await publisher.ReceiveAsync();
                if (answer.Type != PacketType.PubAck)
                {
                    Assert.Equal(ReasonCode.UnspecifiedError, Assert.IsType<DisconnectPacket>(answer.Control).ReasonCode);
                    break;
                }

                acknowledged.Add(text);
                Assert.True(acknowledged.Count < 1_000, "the 256 KB disk never filled up");
            }

            Assert.NotEmpty(acknowledged);
            Assert.True(writer.FailedBatches > 0);

            // Other clients are still served: QoS 0 needs no storage.
            await using var other = await PipeClient.ConnectAsync(broker, "other");
            await other.SubscribeAsync("ping");
            await other.PublishAsync("ping", "still here");
            Assert.Equal("still here", (await other.ExpectPublishAsync()).PayloadText);
        }

        // Everything acknowledged is in the store, in order.
        var state = FileBrokerStore.Read(directory);
        var queued = state.Sessions.Single(s => s.ClientId == "offline").Queued.Select(q => System.Text.Encoding.UTF8.GetString(q.Message.Payload.Span)).ToList();
        Assert.Equal(acknowledged, queued.Take(acknowledged.Count));
    }
}
