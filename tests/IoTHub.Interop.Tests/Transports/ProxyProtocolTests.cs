using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Security.Bans;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests.Transports;

/// <summary>
/// The host with a "proxied" listener (ProxyProtocol=true) behind a real HAProxy (Debian's haproxy) that listens on two
/// loopback ports: one sends PROXY v1 headers (send-proxy), the other v2 (send-proxy-v2); and a "guarded" PROXY listener
/// that refuses anonymous clients, where 3 failed logins ban an address. Connect timeout 2 s.
/// </summary>
public sealed class ProxiedHost : IDisposable
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    private readonly string _folder = Directory.CreateTempSubdirectory("iothub-haproxy-").FullName;
    private readonly ChildProcess _haproxy;

    public ProxiedHost()
    {
        Host = new InteropHost(new Dictionary<string, string>
        {
            ["Mqtt:ConnectTimeout"] = ConnectTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["Mqtt:Listeners:proxied:Url"] = "tcp://127.0.0.1:0",
            ["Mqtt:Listeners:proxied:ProxyProtocol"] = "true",
            ["Mqtt:Listeners:strangers:Url"] = "tcp://127.0.0.1:0",
            ["Mqtt:Listeners:strangers:ProxyProtocol"] = "true",
            ["Mqtt:Listeners:strangers:TrustedProxies"] = "10.0.0.1",
            ["Mqtt:Listeners:guarded:Url"] = "tcp://127.0.0.1:0",
            ["Mqtt:Listeners:guarded:ProxyProtocol"] = "true",
            ["Mqtt:Listeners:guarded:AllowAnonymous"] = "false",
            ["Security:Bans:MaxFailures"] = "3",
        });
        V1 = FreePort();
        V2 = FreePort();
        var broker = Host.Listener("proxied");
        var config = Path.Combine(_folder, "haproxy.cfg");
        File.WriteAllText(config, $"""
            global
                maxconn 100
            defaults
                mode tcp
                timeout connect 5s
                timeout client 60s
                timeout server 60s
            frontend v1
                bind 127.0.0.1:{V1}
                default_backend broker_v1
            frontend v2
                bind 127.0.0.1:{V2}
                default_backend broker_v2
            backend broker_v1
                server iothub {broker} send-proxy
            backend broker_v2
                server iothub {broker} send-proxy-v2

            """);
        _haproxy = ChildProcess.Start("/usr/sbin/haproxy", ["-db", "-f", config]);
        Poll.UntilAsync(() => Accepts(V1) && Accepts(V2), ChildProcess.Timeout).GetAwaiter().GetResult();
    }

    public InteropHost Host { get; }

    /// <summary>HAProxy's port that sends PROXY v1 headers to the broker.</summary>
    public int V1 { get; }

    /// <summary>HAProxy's port that sends PROXY v2 headers to the broker.</summary>
    public int V2 { get; }

    public void Dispose()
    {
        _haproxy.Dispose();
        Host.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static bool Accepts(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>
/// PROXY protocol v1 and v2 with a real proxy (HAProxy) and real clients (mosquitto_pub/sub, a raw socket whose own port
/// is known), and raw headers for what HAProxy does not send: LOCAL, garbage, nothing, and an untrusted peer.
/// </summary>
public sealed class ProxyProtocolTests(ProxiedHost proxied) : IClassFixture<ProxiedHost>
{
    private InteropHost Host => proxied.Host;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task The_clients_address_and_port_reach_the_connection_through_haproxy(int version)
    {
        var port = version == 1 ? proxied.V1 : proxied.V2;
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port);
        var clientId = $"proxied-v{version}";
        await client.SendAsync(Connect(clientId));
        Assert.Equal([0x20, 0x02, 0x00, 0x00], await ReadAsync(client, 4));

        var info = Host.Broker.FindSession(clientId)!.Connection!.Info;
        Assert.Equal(client.LocalEndPoint, info.RemoteEndPoint);
        Assert.Equal((TransportKind.Tcp, $"tcp://{Host.Listener("proxied")}", Host.Listener("proxied")), (info.Transport, info.Listener, info.LocalEndPoint));
    }

    [Fact]
    public async Task Mosquitto_clients_exchange_messages_through_haproxy_v1_and_v2()
    {
        using var subscriber = ChildProcess.Start("/usr/bin/stdbuf", ["-oL", "/usr/bin/mosquitto_sub", "-d", "-h", "127.0.0.1", "-p", Number(proxied.V1),
            "-i", "haproxy-sub", "-t", "proxied/#", "-q", "1", "-C", "1", "-W", "30", "-F", "%t %p"]);
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);
        var address = (IPEndPoint)Host.Broker.FindSession("haproxy-sub")!.Connection!.Info.RemoteEndPoint!;
        Assert.Equal(IPAddress.Loopback, address.Address);
        Assert.NotEqual(Host.Listener("proxied").Port, address.Port);

        using var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", Number(proxied.V2), "-t", "proxied/v2", "-m", "through haproxy", "-q", "1"]);
        await publisher.WaitForSuccessAsync();

        await subscriber.WaitForSuccessAsync();
        Assert.Contains("proxied/v2 through haproxy", subscriber.Lines);
    }

    /// <summary>A health check's LOCAL command (v2, no addresses, no TLVs): the connection keeps the proxy's own address.</summary>
    [Fact]
    public async Task A_local_command_keeps_the_peers_address()
    {
        byte[] local = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00];
        using var client = await OpenAsync("proxied");
        await client.SendAsync((byte[])[.. local, .. Connect("proxied-local")]);
        Assert.Equal([0x20, 0x02, 0x00, 0x00], await ReadAsync(client, 4));

        Assert.Equal(client.LocalEndPoint, Host.Broker.FindSession("proxied-local")!.Connection!.Info.RemoteEndPoint);
    }

    /// <summary>A v1 header in two pieces, the CONNECT right behind it in the same segment.</summary>
    [Fact]
    public async Task A_header_split_across_segments_is_read_whole()
    {
        using var client = await OpenAsync("proxied");
        await client.SendAsync(Encoding.ASCII.GetBytes("PROXY TCP6 2001:db8::7 2001:db8::1 "));
        await client.SendAsync((byte[])[.. Encoding.ASCII.GetBytes("40000 1883\r\n"), .. Connect("proxied-ipv6")]);
        Assert.Equal([0x20, 0x02, 0x00, 0x00], await ReadAsync(client, 4));

        Assert.Equal(IPEndPoint.Parse("[2001:db8::7]:40000"), Host.Broker.FindSession("proxied-ipv6")!.Connection!.Info.RemoteEndPoint);
    }

    /// <summary>Failed logins count against the client's address from the header, not the proxy's: its other clients still connect.</summary>
    [Fact]
    public async Task Bans_count_the_proxied_clients_address_not_the_proxys()
    {
        for (var i = 0; i < 3; i++)
        {
            using var refused = await OpenAsync("guarded");
            await refused.SendAsync((byte[])[.. Encoding.ASCII.GetBytes($"PROXY TCP4 192.0.2.7 127.0.0.1 {40000 + i} 1883\r\n"), .. Connect("guessing")]);
            Assert.Equal([0x20, 0x02, 0x00, 0x05], await ReadAsync(refused, 4));
        }

        Assert.Equal([(BanKind.Address, "192.0.2.7")], Host.Bans.Active().Select(static ban => (ban.Kind, ban.Value)));
        using var neighbour = await OpenAsync("proxied");
        await neighbour.SendAsync((byte[])[.. Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.8 127.0.0.1 40000 1883\r\n"), .. Connect("neighbour")]);
        Assert.Equal([0x20, 0x02, 0x00, 0x00], await ReadAsync(neighbour, 4));
    }

    [Theory]
    [InlineData("proxied", "GET / HTTP/1.1\r\n\r\n")]
    [InlineData("proxied", "PROXY TCP4 10.0.0.1 10.0.0.2 99999 1883\r\n")]
    [InlineData("proxied", null)]
    [InlineData("strangers", "PROXY TCP4 10.0.0.9 10.0.0.2 1234 1883\r\n")]
    public async Task A_bad_or_missing_header_or_an_untrusted_peer_is_closed_within_the_connect_timeout(string listener, string? header)
    {
        using var client = await OpenAsync(listener);
        if (header is not null)
        {
            await client.SendAsync((byte[])[.. Encoding.ASCII.GetBytes(header), .. Connect("never")]);
        }

        var started = TimeProvider.System.GetTimestamp();
        using var wait = new CancellationTokenSource(ProxiedHost.ConnectTimeout * 5);
        var read = await client.ReceiveAsync(new byte[16], wait.Token);
        Assert.Equal(0, read);
        Assert.True(TimeProvider.System.GetElapsedTime(started) < ProxiedHost.ConnectTimeout * 3);
        Assert.Null(Host.Broker.FindSession("never"));
    }

    private async Task<Socket> OpenAsync(string listener)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(Host.Listener(listener));
        return socket;
    }

    /// <summary>An MQTT 3.1.1 CONNECT with Clean Session and a keep-alive of 60 s.</summary>
    private static byte[] Connect(string clientId)
    {
        var id = Encoding.UTF8.GetBytes(clientId);
        return [0x10, (byte)(12 + id.Length), 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C, 0x00, (byte)id.Length, .. id];
    }

    private static async Task<byte[]> ReadAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        using var wait = new CancellationTokenSource(RawMqttClient.Timeout);
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), wait.Token);
            Assert.NotEqual(0, n);
            read += n;
        }

        return buffer;
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
