using System.Globalization;
using System.Net.Sockets;
using IoTHub.Broker.Connections;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests.Transports;

/// <summary>
/// The host with two detect:// listeners on loopback: "detect" with a certificate (tcp, tls, ws and wss on one port) and
/// "plain" without (tcp and ws). Connect timeout 2 s.
/// </summary>
public sealed class DetectHost() : CertificateHost(Settings)
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    private static Dictionary<string, string> Settings(TestCertificates certificates)
    {
        var server = certificates.Server("server");
        return new()
        {
            ["Mqtt:ConnectTimeout"] = ConnectTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["Mqtt:Listeners:detect:Url"] = "detect://127.0.0.1:0",
            ["Mqtt:Listeners:detect:Certificate"] = server.Certificate,
            ["Mqtt:Listeners:detect:CertificateKey"] = server.Key,
            ["Mqtt:Listeners:plain:Url"] = "detect://127.0.0.1:0/broker",
        };
    }
}

/// <summary>
/// detect:// listeners: mosquitto_pub/sub plain and with --cafile, paho-mqtt over ws and wss, all on one port; garbage,
/// silence and TLS where there is no certificate are closed.
/// </summary>
public sealed class DetectTests(DetectHost detect) : IClassFixture<DetectHost>
{
    private InteropHost Host => detect.Host;

    [Fact]
    public async Task Tcp_tls_ws_and_wss_clients_share_one_port()
    {
        using var subscriber = ChildProcess.Start("/usr/bin/stdbuf", ["-oL", "/usr/bin/mosquitto_sub", "-d", "-h", "127.0.0.1", "-p", detect.Port("detect"),
            "--cafile", detect.Certificates.Authority, "-i", "detect-sub", "-t", "detect/#", "-q", "1", "-C", "4", "-W", "30", "-F", "%t %p"]);
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);
        var info = Host.Broker.FindSession("detect-sub")!.Connection!.Info;
        Assert.Equal((TransportKind.Tls, $"detect://{Host.Listener("detect")}/mqtt"), (info.Transport, info.Listener));

        using (var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", detect.Port("detect"), "-t", "detect/tcp", "-m", "plain", "-q", "1"]))
        {
            await publisher.WaitForSuccessAsync();
        }

        List<string> webSocket = ["--port", detect.Port("detect"), "--transport", "websockets", "--path", "/mqtt"];
        await Paho.PublishAsync(Host, webSocket, Protocol.V311, "detect/ws", 1, retain: false, "over ws");
        await Paho.PublishAsync(Host, [.. webSocket, "--cafile", detect.Certificates.Authority], Protocol.V500, "detect/wss", 1, retain: false, "over wss");
        using (var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", detect.Port("detect"), "--cafile", detect.Certificates.Authority,
            "-t", "detect/tls", "-m", "secure", "-q", "1"]))
        {
            await publisher.WaitForSuccessAsync();
        }

        await subscriber.WaitForSuccessAsync();
        Assert.Equal(["detect/tcp plain", "detect/ws over ws", "detect/wss over wss", "detect/tls secure"],
            subscriber.Lines.Where(static line => line.StartsWith("detect/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_listener_without_a_certificate_serves_tcp_and_ws_at_its_path()
    {
        await Paho.PublishAsync(Host, ["--port", detect.Port("plain"), "--transport", "websockets", "--path", "/broker"], Protocol.V500, "plain/ws", 0,
            retain: false, "over ws");
        using var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", detect.Port("plain"), "-t", "plain/tcp", "-m", "m"]);
        await publisher.WaitForSuccessAsync();
    }

    [Theory]
    [InlineData("detect", new byte[] { 0xFF, 0x00, 0x01 })]
    [InlineData("detect", new byte[] { 0x30, 0x02, 0x00, 0x00 })]
    [InlineData("detect", new byte[0])]
    [InlineData("plain", new byte[] { 0x16, 0x03, 0x01, 0x00, 0x05 })]
    public async Task Garbage_silence_and_tls_without_a_certificate_are_closed_within_the_connect_timeout(string listener, byte[] first)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(Host.Listener(listener));
        if (first.Length > 0)
        {
            await client.SendAsync(first);
        }

        var started = TimeProvider.System.GetTimestamp();
        using var wait = new CancellationTokenSource(DetectHost.ConnectTimeout * 5);
        Assert.Equal(0, await client.ReceiveAsync(new byte[64], wait.Token));
        Assert.True(TimeProvider.System.GetElapsedTime(started) < DetectHost.ConnectTimeout * 3);
    }
}
