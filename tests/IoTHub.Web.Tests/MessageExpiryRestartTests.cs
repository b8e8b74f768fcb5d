using IoTHub.Broker;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests;

/// <summary>
/// The MQTT 5.0 Message Expiry Interval of stored messages survives a restart of the host (issue 14, defect 2): a queued or
/// retained message whose expiry passed meanwhile is not delivered, the others carry the time they have left.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class MessageExpiryRestartTests(PostgresServer postgres) : IDisposable
{
    private static readonly MqttProperties Persistent = new() { SessionExpiryInterval = 3600 };

    private readonly TempDirectory _data = new();

    public void Dispose() => _data.Dispose();

    // [MQTT-3.3.2-5]: the 2 s messages expired while the broker was down and are never delivered.
    // [MQTT-3.3.2-6]: the 3600 s ones arrive with the Message Expiry Interval they have left, above 0 and at most 3600.
    [Theory]
    [InlineData("sqlite")]
    [InlineData("file")]
    [InlineData("postgres")]
    public async Task Stored_messages_expire_across_a_restart(string provider)
    {
        var settings = await StorageHost.SettingsAsync(provider, _data.Path, postgres);

        DateTime shortOnesExpired;
        using (var host = new StorageHost(settings))
        {
            await using (var subscriber = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "expiry-device", MqttProtocolVersion.V500, cleanStart: false,
                properties: Persistent))
            {
                await subscriber.SubscribeAsync("expiry/#", QualityOfService.AtLeastOnce);
                await subscriber.DisconnectAsync();
            }

            // Offline before anything is published, so that every message is queued, none is sent and in flight.
            var broker = host.Services.GetRequiredService<MqttBroker>();
            await Poll.UntilAsync(() => !broker.FindSession("expiry-device")!.IsConnected);

            await using var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "expiry-publisher", MqttProtocolVersion.V500);
            await PublishAsync(publisher, "expiry/short", 2, retain: false);
            await PublishAsync(publisher, "expiry/long", 3600, retain: false);
            await PublishAsync(publisher, "expiry-retained/short", 2, retain: true);
            await PublishAsync(publisher, "expiry-retained/long", 3600, retain: true);

            // Every expiry started before its PUBACK came back.
            shortOnesExpired = DateTime.UtcNow.AddSeconds(2);
        }

        await Poll.UntilAsync(() => DateTime.UtcNow > shortOnesExpired);

        using var restarted = new StorageHost(settings);
        await using (var again = await MqttTestClient.ConnectTcpAsync(restarted.MqttEndpoint, "expiry-device", MqttProtocolVersion.V500, cleanStart: false,
            properties: Persistent))
        {
            Assert.True(again.LastConnAck!.SessionPresent);
            var queued = await again.ExpectPublishAsync();
            Assert.Equal("expiry/long", queued.Topic);
            Assert.InRange(queued.Properties.MessageExpiryInterval.GetValueOrDefault(), 1u, 3600u);
            await again.SendAsync(new AckPacket(PacketType.PubAck, queued.PacketId));
            await again.PublishAsync("expiry/marker", "after the queued ones");
            Assert.Equal("expiry/marker", (await again.ExpectPublishAsync()).Topic);
        }

        await using var reader = await MqttTestClient.ConnectTcpAsync(restarted.MqttEndpoint, "expiry-reader", MqttProtocolVersion.V500);
        await reader.SubscribeAsync("expiry-retained/#");
        var retained = await reader.ExpectPublishAsync();
        Assert.Equal(("expiry-retained/long", true), (retained.Topic, retained.Retain));
        Assert.InRange(retained.Properties.MessageExpiryInterval.GetValueOrDefault(), 1u, 3600u);
        await reader.PublishAsync("expiry-retained/marker", "after the retained ones");
        Assert.Equal("expiry-retained/marker", (await reader.ExpectPublishAsync()).Topic);
    }

    private static async Task PublishAsync(MqttTestClient publisher, string topic, uint expiry, bool retain)
    {
        await publisher.PublishAsync(topic, topic, QualityOfService.AtLeastOnce, retain, properties: new MqttProperties { MessageExpiryInterval = expiry });
        await publisher.ExpectAckAsync(PacketType.PubAck);
    }
}
