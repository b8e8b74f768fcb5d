using System.Globalization;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>A client id taken over mid-stream over real sockets: the session goes on and no message is lost.</summary>
public sealed class TakeoverTests(KestrelHost host) : IClassFixture<KestrelHost>
{
    private const int Messages = 200;

    // 5.0 [MQTT-3.1.4-3] / 3.1.1 [MQTT-3.1.4-2]: the old connection is closed (5.0: 0x8E), the session continues.
    [Fact]
    public async Task Takeover_mid_stream_with_qos1_and_qos2_loses_nothing()
    {
        var persistent = new MqttProperties { SessionExpiryInterval = 300 };
        var first = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "moving-device", MqttProtocolVersion.V500, cleanStart: false, persistent);
        await first.SubscribeAsync("stream/#", QualityOfService.ExactlyOnce);

        await using var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "stream-publisher");
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < Messages; i++)
            {
                var payload = i.ToString(CultureInfo.InvariantCulture);
                if (i % 2 == 0)
                {
                    await publisher.PublishAndWaitAsync("stream/q1", payload);
                    continue;
                }

                var id = await publisher.PublishAsync("stream/q2", payload, QualityOfService.ExactlyOnce);
                await publisher.ExpectAckAsync(PacketType.PubRec);
                await publisher.SendAsync(new AckPacket(PacketType.PubRel, id));
                await publisher.ExpectAckAsync(PacketType.PubComp);
            }
        });

        // The first connection sees some messages (fewer than its in-flight window of 32) and acknowledges none.
        var seenByFirst = new HashSet<string>();
        while (seenByFirst.Count < 20)
        {
            seenByFirst.Add((await first.ExpectPublishAsync()).PayloadText);
        }

        await using var second = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "moving-device", MqttProtocolVersion.V500, cleanStart: false, persistent);
        Assert.True(second.LastConnAck!.SessionPresent);
        var last = await first.DrainUntilClosedAsync();
        Assert.Equal(ReasonCode.SessionTakenOver, Assert.IsType<DisconnectPacket>(last.Last(p => p.Type == PacketType.Disconnect).Control).ReasonCode);
        await first.DisposeAsync();

        var seenBySecond = new Dictionary<string, int>();
        while (seenBySecond.Count < Messages)
        {
            var packet = await second.ReceiveAsync();
            if (packet.Type == PacketType.PubRel)
            {
                await second.SendAsync(new AckPacket(PacketType.PubComp, packet.Ack.PacketId));
                continue;
            }

            var message = packet.Publish!;
            seenBySecond[message.PayloadText] = seenBySecond.GetValueOrDefault(message.PayloadText) + 1;
            await second.SendAsync(new AckPacket(message.QualityOfService == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec, message.PacketId));
        }

        await publishing.WaitAsync(MqttTestClient.Timeout);

        // Every message reached the second connection (redelivered with DUP if the first had it), QoS 2 ones once.
        Assert.Equal(Enumerable.Range(0, Messages).Select(i => i.ToString(CultureInfo.InvariantCulture)).Order(), seenBySecond.Keys.Order());
        Assert.All(seenBySecond.Where(p => int.Parse(p.Key, CultureInfo.InvariantCulture) % 2 == 1), p => Assert.Equal(1, p.Value));
    }
}
