using System.Diagnostics;
using System.Net;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>
/// The data folder on a 256 KB tmpfs (a real full disk; the suite runs as root): when storage can no
/// longer write, the publisher gets no acknowledgement and readiness turns 503.
/// </summary>
public sealed class FullDiskTests : IDisposable
{
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "iothub-web-full-" + Guid.NewGuid().ToString("N"));
    private readonly FullDiskHost _host;

    public FullDiskTests()
    {
        Directory.CreateDirectory(_mount);
        Assert.Equal(0, Run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", _mount));
        _host = new FullDiskHost(_mount);
    }

    [Fact]
    public async Task Readiness_turns_unready_when_the_disk_is_full()
    {
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode);
        await using (var offline = await MqttTestClient.ConnectTcpAsync(_host.MqttEndpoint, "offline", cleanStart: false))
        {
            await offline.SubscribeAsync("fill", QualityOfService.AtLeastOnce);
            await offline.DisconnectAsync();
        }

        await using var publisher = await MqttTestClient.ConnectTcpAsync(_host.MqttEndpoint, "filler", MqttProtocolVersion.V500);
        var payload = new string('f', 4_000);
        for (var sent = 0; ; sent++)
        {
            Assert.True(sent < 1_000, "the 256 KB disk never filled up");
            await publisher.PublishAsync("fill", payload, QualityOfService.AtLeastOnce);
            if ((await publisher.ReceiveAsync()).Type != PacketType.PubAck)
            {
                break;
            }
        }

        var ready = await _host.Client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.GetAsync(new Uri("/health/live", UriKind.Relative))).StatusCode);
    }

    public void Dispose()
    {
        _host.Dispose();
        Run("umount", _mount);
        Directory.Delete(_mount, recursive: true);
    }

    private static int Run(string command, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true })!;
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), $"{command} did not finish");
        return process.ExitCode;
    }

    private sealed class FullDiskHost(string dataDirectory) : KestrelHost(new Dictionary<string, string>
    {
        ["Storage:Provider"] = "file",
        ["Storage:DataDirectory"] = dataDirectory,
    });
}
