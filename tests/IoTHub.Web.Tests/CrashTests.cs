using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>
/// The broker process is killed with SIGKILL while QoS 1 and 2 publishers run and the subscriber is
/// offline. After a restart every message a publisher got an acknowledgement for arrives: at least once
/// for QoS 1, exactly once for QoS 2.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class CrashTests(PostgresServer postgres) : IDisposable
{
    private const int Target = 150;

    private readonly TempDirectory _workingDirectory = new();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("file")]
    [InlineData("postgres")]
    public async Task Acknowledged_messages_survive_sigkill(string provider)
    {
        string dataDirectory = Path.Combine(_workingDirectory.Path, "data");
        List<string> arguments = ["--http-port", "0", "--mqtt-port", "0", "--data-dir", dataDirectory, "--Storage:Provider=" + provider,
            "--Logging:LogLevel:IoTHub.Broker=Warning"];
        if (provider == "postgres")
        {
            arguments.Add("--Storage:ConnectionString=" + await postgres.CreateDatabaseAsync());
            arguments.Add("--Storage:MigrateOnStart=true");
        }

        var acknowledgedQos1 = new ConcurrentDictionary<string, byte>();
        var acknowledgedQos2 = new ConcurrentDictionary<string, byte>();
        using (var host = HostProcess.Start(_workingDirectory.Path, [.. arguments]))
        {
            var endpoint = await host.WaitForMqttEndpointAsync();
            var subscriber = await MqttTestClient.ConnectTcpAsync(endpoint, "subscriber", cleanStart: false);
            await subscriber.SendAsync(new SubscribePacket
            {
                PacketId = 1,
                Subscriptions = [new("crash/q1", new(QualityOfService.AtLeastOnce)), new("crash/q2", new(QualityOfService.ExactlyOnce))],
            });
            await subscriber.ExpectAsync<SubAckPacket>();
            await subscriber.DisconnectAsync();
            await subscriber.DisposeAsync();

            var qos1 = PublishUntilKilledAsync(endpoint, "q1", QualityOfService.AtLeastOnce, acknowledgedQos1);
            var qos2 = PublishUntilKilledAsync(endpoint, "q2", QualityOfService.ExactlyOnce, acknowledgedQos2);
            await Poll.UntilAsync(() => acknowledgedQos1.Count >= Target && acknowledgedQos2.Count >= Target, TimeSpan.FromSeconds(30));

            await host.KillAsync();
            await Task.WhenAll(qos1, qos2).WaitAsync(MqttTestClient.Timeout);
        }

        using var restarted = HostProcess.Start(_workingDirectory.Path, [.. arguments]);
        var again = await MqttTestClient.ConnectTcpAsync(await restarted.WaitForMqttEndpointAsync(), "subscriber", cleanStart: false);
        await using (again)
        {
            Assert.True(again.LastConnAck!.SessionPresent);
            var seenQos1 = new HashSet<string>();
            var timesQos2 = new Dictionary<string, int>();
            var markerSeen = false;

            // Publishes come pipelined, so every packet is answered as it comes: PUBACK, PUBREC, or PUBCOMP for a PUBREL.
            async Task HandleNextAsync()
            {
                var packet = await again.ReceiveAsync();
                switch (packet.Type)
                {
                    case PacketType.Publish when packet.Publish!.Topic == "crash/q1":
                        seenQos1.Add(packet.Publish.PayloadText);
                        markerSeen |= packet.Publish.PayloadText == "marker";
                        await again.SendAsync(new AckPacket(PacketType.PubAck, packet.Publish.PacketId));
                        break;
                    case PacketType.Publish:
                        timesQos2[packet.Publish!.PayloadText] = timesQos2.GetValueOrDefault(packet.Publish.PayloadText) + 1;
                        await again.SendAsync(new AckPacket(PacketType.PubRec, packet.Publish.PacketId));
                        break;
                    case PacketType.PubRel:
                        await again.SendAsync(new AckPacket(PacketType.PubComp, packet.Ack.PacketId));
                        break;
                    default:
                        Assert.Fail($"unexpected {packet.Type}");
                        break;
                }
            }

            while (!acknowledgedQos1.Keys.All(seenQos1.Contains) || !acknowledgedQos2.Keys.All(timesQos2.ContainsKey))
            {
                await HandleNextAsync();
            }

            // Anything still queued comes before this marker: no QoS 2 message may come twice.
            await using var marker = await MqttTestClient.ConnectTcpAsync(await restarted.WaitForMqttEndpointAsync(), "marker");
            await marker.PublishAndWaitAsync("crash/q1", "marker");
            while (!markerSeen)
            {
                await HandleNextAsync();
            }

            Assert.All(timesQos2, pair => Assert.Equal(1, pair.Value));
        }

        restarted.Terminate();
        var exitCode = await restarted.WaitForExitAsync();
        Assert.True(exitCode == 0, $"exit code {exitCode}. Output:\n{restarted.Output}");
    }

    /// <summary>Publishes numbered messages one at a time and records each acknowledged one, until the broker dies.</summary>
    private static async Task PublishUntilKilledAsync(IPEndPoint endpoint, string name, QualityOfService qos, ConcurrentDictionary<string, byte> acknowledged)
    {
        await using var publisher = await MqttTestClient.ConnectTcpAsync(endpoint, "publisher-" + name);
        try
        {
            for (var i = 0; i < 100_000; i++)
            {
                var payload = name + "-" + i.ToString(CultureInfo.InvariantCulture);
                var id = await publisher.PublishAsync("crash/" + name, payload, qos);
                var ack = await publisher.ExpectAckAsync(qos == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec);
                Assert.Equal(id, ack.PacketId);

                // PUBACK and PUBREC both mean the broker has taken the message over.
                acknowledged[payload] = 0;
                if (qos == QualityOfService.ExactlyOnce)
                {
                    await publisher.SendAsync(new AckPacket(PacketType.PubRel, id));
                    await publisher.ExpectAckAsync(PacketType.PubComp);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or Xunit.Sdk.XunitException)
        {
            // The broker was killed: the connection ends mid-flow.
        }
    }


    public void Dispose() => _workingDirectory.Dispose();
}
