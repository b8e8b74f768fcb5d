using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using IoTHub.Testing;

namespace IoTHub.Web.Tests.Https;

/// <summary>
/// A host whose default broker has a tls listener "secure" on certificate files a test may replace, a detect listener
/// "detect" with a certificate of its own, and a Unix socket listener "local".
/// </summary>
public sealed class TlsListenerHost() : CertificatesHost(Settings)
{
    /// <summary>The "local" listener's socket file.</summary>
    public static string SocketPath(TestCertificates certificates) => Path.Combine(certificates.Folder, "mqtt.sock");

    /// <summary>The files of the "secure" listener.</summary>
    public static PemFiles Live(TestCertificates certificates) =>
        new(Path.Combine(certificates.Folder, "live.pem"), Path.Combine(certificates.Folder, "live.key"));

    private static Dictionary<string, string> Settings(TestCertificates certificates)
    {
        var first = certificates.Server("first");
        var detect = certificates.Server("detect");
        var live = Live(certificates);
        File.Copy(first.Certificate, live.Certificate);
        File.Copy(first.Key, live.Key);
        return new()
        {
            ["Mqtt:Listeners:secure:Url"] = "tls://127.0.0.1:0",
            ["Mqtt:Listeners:secure:Certificate"] = live.Certificate,
            ["Mqtt:Listeners:secure:CertificateKey"] = live.Key,
            ["Mqtt:Listeners:detect:Url"] = "detect://127.0.0.1:0",
            ["Mqtt:Listeners:detect:Certificate"] = detect.Certificate,
            ["Mqtt:Listeners:detect:CertificateKey"] = detect.Key,
            ["Mqtt:Listeners:local:Url"] = $"unix://{SocketPath(certificates)}",
        };
    }
}

/// <summary>
/// GET /api/v1/brokers/{name}/listeners and iothub_listener_certificate_expiry_seconds: every listener of a broker, /mqtt on
/// the HTTP endpoint, detect and unix listeners included, with its certificate as served now. Runs alone: it reads metrics.
/// </summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class BrokerListenersTests(TlsListenerHost host) : IClassFixture<TlsListenerHost>
{
    [Fact]
    public async Task Each_listener_has_its_scheme_tls_certificate_and_connections_and_renewals_show()
    {
        var admin = await host.AdminAsync();
        var secure = host.MqttListeners.Single(static l => l.Name == "secure").Endpoint;
        var httpMqtt = $"ws://127.0.0.1:{host.BaseAddress.Port}/mqtt";
        await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/brokers/nope/listeners"), HttpStatusCode.NotFound);

        await using var tcp = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "listed-tcp");
        using var webSocket = await ConnectWebSocketAsync(new Uri(httpMqtt));

        var detect = host.MqttListeners.Single(static l => l.Name == "detect").Endpoint;
        var socket = TlsListenerHost.SocketPath(host.Certificates);
        var listeners = await ListenersAsync(admin);
        Assert.Equal(
            [("default", "tcp", $"tcp://{host.MqttEndpoint}", 1), ("detect", "detect", $"detect://{detect}/mqtt", 0), ("local", "unix", $"unix://{socket}", 0),
                ("secure", "tls", $"tls://{secure}", 0), ("http", "ws", httpMqtt, 1)],
            listeners.Select(static l => (l.GetProperty("name").GetString(), l.GetProperty("scheme").GetString(), l.GetProperty("url").GetString(),
                l.GetProperty("connections").GetInt32())));
        Assert.Equal(("/mqtt", "/mqtt"), (listeners[1].GetProperty("path").GetString(), listeners[4].GetProperty("path").GetString()));

        // A Unix socket has its path for an address and no port, in both listener lists.
        Assert.Equal((socket, JsonValueKind.Null, true), (listeners[2].GetProperty("address").GetString(), listeners[2].GetProperty("port").ValueKind,
            listeners[2].GetProperty("bound").GetBoolean()));
        var all = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/listeners?protocol=mqtt")).GetProperty("items").EnumerateArray();
        var local = all.Single(static l => l.GetProperty("name").GetString() == "local");
        Assert.Equal((socket, JsonValueKind.Null, true), (local.GetProperty("address").GetString(), local.GetProperty("port").ValueKind, local.GetProperty("bound").GetBoolean()));

        // A detect listener with a certificate shows it and has its expiry metric.
        var detectCertificate = Assert.Single(listeners[1].GetProperty("tls").GetProperty("certificates").EnumerateArray());
        Assert.Equal("CN=localhost", detectCertificate.GetProperty("subject").GetString());
        Assert.Equal(JsonValueKind.Null, listeners[0].GetProperty("tls").ValueKind);
        var tls = listeners[3].GetProperty("tls");
        Assert.Equal(("Tls12, Tls13", "None"), (tls.GetProperty("protocols").GetString(), tls.GetProperty("clientCertificates").GetString()));
        var certificate = Assert.Single(tls.GetProperty("certificates").EnumerateArray());
        var live = TlsListenerHost.Live(host.Certificates);
        Assert.Equal(("CN=localhost", NotAfter(live)), (certificate.GetProperty("subject").GetString(), certificate.GetProperty("notAfter").GetDateTimeOffset()));

        var series = $"iothub_listener_certificate_expiry_seconds{{broker=\"default\",listener=\"tls://{secure}\"}}";
        var metrics = await MetricsScrape.ReadAsync(host.Client);
        Assert.InRange(metrics[series], (NotAfter(live) - DateTimeOffset.UtcNow).TotalSeconds - 60, (NotAfter(live) - DateTimeOffset.UtcNow).TotalSeconds + 1);
        Assert.Equal(1, metrics[$"iothub_connections{{broker=\"default\",listener=\"{httpMqtt}\",protocol=\"3.1.1\"}}"]);
        Assert.True(metrics[$"iothub_listener_certificate_expiry_seconds{{broker=\"default\",listener=\"detect://{detect}/mqtt\"}}"] > 0);

        // A renewal that lasts a day longer: the API and the metric follow it without a handshake.
        var renewed = host.Certificates.Server("renewed", notAfter: DateTimeOffset.UtcNow.AddDays(2));
        File.Copy(renewed.Certificate, live.Certificate, overwrite: true);
        File.Copy(renewed.Key, live.Key, overwrite: true);
        await Poll.UntilAsync(async () => (await ListenersAsync(admin))[3].GetProperty("tls").GetProperty("certificates")[0]
            .GetProperty("notAfter").GetDateTimeOffset() == NotAfter(renewed), TimeSpan.FromSeconds(15), "the renewed certificate was not listed within 15 s");
        Assert.InRange((await MetricsScrape.ReadAsync(host.Client))[series], TimeSpan.FromDays(1.9).TotalSeconds, TimeSpan.FromDays(2).TotalSeconds);
    }

    private static async Task<List<JsonElement>> ListenersAsync(HttpClient admin) =>
        [.. (await admin.GetFromJsonAsync<JsonElement>("/api/v1/brokers/default/listeners")).GetProperty("items").EnumerateArray()];

    private static DateTimeOffset NotAfter(PemFiles files)
    {
        var file = new X509Certificate2Collection();
        file.ImportFromPemFile(files.Certificate);
        var certificate = file[0];
        return new DateTimeOffset(certificate.NotAfter.ToUniversalTime()).AddTicks(-(certificate.NotAfter.Ticks % TimeSpan.TicksPerSecond));
    }

    /// <summary>MQTT over WebSocket (HTTP/1.1) at the HTTP endpoint, connected: CONNECT sent, CONNACK read.</summary>
    private static async Task<ClientWebSocket> ConnectWebSocketAsync(Uri uri)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("mqtt");
        using var timeout = new CancellationTokenSource(MqttTestClient.Timeout);
        await socket.ConnectAsync(uri, timeout.Token);
        await socket.SendAsync(Http2WebSocket.Connect("listed-ws"), WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
        var connAck = new byte[4];
        var read = await socket.ReceiveAsync(connAck, timeout.Token);
        Assert.Equal(4, read.Count);
        Assert.Equal(Http2WebSocket.ConnAck, connAck);
        return socket;
    }
}
