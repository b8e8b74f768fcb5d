using System.Net;
using System.Net.WebSockets;
using IoTHub.Broker.Connections;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests.Transports;

/// <summary>
/// WebSockets over HTTP/2 (RFC 8441, the roadmap's http2://) with .NET's ClientWebSocket insisting on HTTP/2: on a wss://
/// listener (h2 through ALPN) and on a ws:// listener with HttpProtocols=Http2 (prior knowledge), an MQTT client's
/// PUBLISH reaches mosquitto_sub on tcp. The server answers the extended CONNECT with 200, which only HTTP/2 does
/// (HTTP/1.1 answers an upgrade with 101).
/// </summary>
public sealed class Http2WebSocketTests(TransportHost transports) : IClassFixture<TransportHost>
{
    private const string Sub = "/usr/bin/mosquitto_sub";

    private InteropHost Host => transports.Host;

    [Theory]
    [InlineData("wss", "wss", TransportKind.SecureWebSocket)]
    [InlineData("h2c", "ws", TransportKind.WebSocket)]
    public async Task An_mqtt_client_over_an_http2_websocket_reaches_a_tcp_subscriber(string listener, string scheme, TransportKind transport)
    {
        using var subscriber = ChildProcess.Start("/usr/bin/stdbuf", ["-oL", Sub, "-d", "-h", Host.Host, "-p", Host.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-i", $"h2-sub-{listener}", "-t", $"h2/{listener}/#", "-C", "1", "-W", "30", "-F", "%t %p"]);
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);

        await using var client = await Http2WebSocket.ConnectAsync(new Uri($"{scheme}://{transports[listener]}/mqtt"), transports.Certificates.Issued);
        Assert.Equal((HttpStatusCode.OK, "mqtt"), (client.Socket.HttpStatusCode, client.Socket.SubProtocol));
        await client.SendAsync(Http2WebSocket.Connect($"h2-{listener}"));
        Assert.Equal(Http2WebSocket.ConnAck, await client.ReceiveAsync(4));
        await client.SendAsync(Http2WebSocket.Publish($"h2/{listener}/temperature", "over http2"));

        await subscriber.WaitForSuccessAsync();
        Assert.Contains($"h2/{listener}/temperature over http2", subscriber.Lines);
        var info = Host.Broker.FindSession($"h2-{listener}")!.Connection!.Info;
        Assert.Equal((transport, $"{scheme}://{transports[listener]}/mqtt"), (info.Transport, info.Listener));
    }

    /// <summary>A cleartext port speaks one HTTP version: the default ws listener refuses HTTP/2, the h2c one HTTP/1.1.</summary>
    [Fact]
    public async Task A_cleartext_listener_speaks_only_its_http_version()
    {
        await Assert.ThrowsAnyAsync<WebSocketException>(() => Http2WebSocket.ConnectAsync(new Uri($"ws://{transports["ws"]}/mqtt")));

        using var http11 = new ClientWebSocket();
        http11.Options.AddSubProtocol("mqtt");
        using var timeout = new CancellationTokenSource(MqttTestClient.Timeout);
        await Assert.ThrowsAnyAsync<WebSocketException>(() => http11.ConnectAsync(new Uri($"ws://{transports["h2c"]}/mqtt"), timeout.Token));
    }
}
