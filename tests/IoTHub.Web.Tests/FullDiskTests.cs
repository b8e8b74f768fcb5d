using System.Net;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>
/// The data folder on a small tmpfs (a real full disk; the suite runs as root): when storage can no
/// longer write, the publisher gets no acknowledgement, readiness turns 503 and the failed commits are
/// counted, with a storage_write_errors alarm; once the disk has room again, the next commit succeeds and readiness is
/// 200 again, and the alarm clears.
/// In the metrics collection: OpenTelemetry would read the meters of other hosts of the process too.
/// </summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class FullDiskTests
{
    [TmpfsTheory]
    [InlineData("file")]
    [InlineData("sqlite")]
    public async Task Readiness_follows_storage_when_the_disk_fills_and_gets_room_again(string provider)
    {
        using var disk = Tmpfs.Mount("1200k");
        using var host = new FullDiskHost(disk.Path, provider);
        var failures = "iothub_storage_commit_failures_total{provider=\"" + provider + "\"}";
        const string Alarm = "iothub_alarms_active{name=\"storage_write_errors\"}";
        Assert.Equal(HttpStatusCode.OK, await ReadinessAsync(host));
        Assert.Equal(0, (await MetricsScrape.ReadAsync(host.Client))[failures]);
        await using (var offline = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "offline", cleanStart: false))
        {
            await offline.SubscribeAsync("fill", QualityOfService.AtLeastOnce);
            await offline.DisconnectAsync();
        }

        await using (var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "filler", MqttProtocolVersion.V500))
        {
            var payload = new string('f', 4_000);
            for (var sent = 0; ; sent++)
            {
                Assert.True(sent < 1_000, "the 1200 KB disk never filled up");
                await publisher.PublishAsync("fill", payload, QualityOfService.AtLeastOnce);
                var answer = await publisher.ReceiveAsync();
                if (answer.Type != PacketType.PubAck)
                {
                    Assert.Equal(ReasonCode.UnspecifiedError, Assert.IsType<DisconnectPacket>(answer.Control).ReasonCode);
                    break;
                }
            }
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadinessAsync(host));
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync(new Uri("/health/live", UriKind.Relative))).StatusCode);
        Assert.True((await MetricsScrape.ReadAsync(host.Client))[failures] >= 1);
        host.SampleNow();
        Assert.Equal(1, (await MetricsScrape.ReadAsync(host.Client))[Alarm]);

        // The operator grows the disk: the next commit succeeds, and with it readiness.
        disk.Resize("64m");
        await using (var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "filler"))
        {
            await publisher.PublishAndWaitAsync("fill", "room again");
        }

        Assert.Equal(HttpStatusCode.OK, await ReadinessAsync(host));
        host.SampleNow();
        Assert.Equal(0, (await MetricsScrape.ReadAsync(host.Client))[Alarm]);
    }

    private static async Task<HttpStatusCode> ReadinessAsync(KestrelHost host) =>
        (await host.Client.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode;

    private sealed class FullDiskHost(string dataDirectory, string provider) : KestrelHost(new Dictionary<string, string>
    {
        ["Storage:Provider"] = provider,
        ["Storage:DataDirectory"] = dataDirectory,
    });
}
