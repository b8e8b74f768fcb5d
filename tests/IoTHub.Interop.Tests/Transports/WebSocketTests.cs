using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using IoTHub.Broker.Connections;
using IoTHub.Testing;
using MQTTnet;

namespace IoTHub.Interop.Tests.Transports;

/// <summary>
/// MQTT over WebSocket (MQTT 5.0 §6) on ws:// and wss:// listeners and at /mqtt on the HTTP endpoint: paho-mqtt with
/// transport="websockets", the MQTTnet client, and .NET's ClientWebSocket for what those clients never do (text
/// frames, odd framing, other sub-protocols, Origin and X-Forwarded-For headers).
/// </summary>
public sealed class WebSocketTests(TransportHost transports) : IClassFixture<TransportHost>
{
    private static readonly byte[] Connect = [0x10, 0x0D, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, (byte)'w'];
    private static readonly byte[] ConnAck = [0x20, 0x02, 0x00, 0x00];

    private InteropHost Host => transports.Host;

    [Fact]
    public async Task Paho_clients_exchange_messages_over_ws_and_wss()
    {
        using var subscriber = Paho.Subscribe(Host, Protocol.V500, "paho-ws-sub", count: 1, ["web/#:1"], transport: WebSocket("ws"));
        await Paho.WaitUntilSubscribedAsync(subscriber);

        await Paho.PublishAsync(Host, [.. WebSocket("wss"), "--cafile", transports.Certificates.Authority], Protocol.V311, "web/paho", 1, retain: false, "over wss");

        await subscriber.WaitForSuccessAsync();
        Assert.Equal([new("web/paho", "over wss", 1, false)], Paho.Messages(subscriber));
    }

    [Fact]
    public async Task A_wss_client_and_a_tls_device_exchange_messages_through_one_broker()
    {
        await using var browser = await MqttNetClient.ConnectAsync(Host, Protocol.V500, "mqttnet-wss", transport: builder => Wss(builder));
        await browser.SubscribeAsync("devices/+/temperature", 1);
        await using var device = await MqttNetClient.ConnectAsync(Host, Protocol.V311, "mqttnet-tls-device", transport: builder => builder
            .WithTcpServer("127.0.0.1", transports["tls"].Port)
            .WithTlsOptions(tls => tls.UseTls().WithTargetHost("localhost").WithTrustChain([Authority()])));
        await device.SubscribeAsync("commands/#", 1);

        await device.PublishAsync("devices/d1/temperature", "21.5", 1);
        await browser.PublishAsync("commands/d1", "heat", 1);

        Assert.Equal([new("devices/d1/temperature", "21.5", 1, false)], await browser.WaitForMessagesAsync(1));
        Assert.Equal([new("commands/d1", "heat", 1, false)], await device.WaitForMessagesAsync(1));
        var info = Host.Broker.FindSession("mqttnet-wss")!.Connection!.Info;
        Assert.Equal((TransportKind.SecureWebSocket, $"wss://{transports["wss"]}/mqtt"), (info.Transport, info.Listener));
    }

    [Fact]
    public async Task The_MQTTnet_client_connects_over_ws_and_at_mqtt_on_the_http_endpoint()
    {
        await using var onListener = await MqttNetClient.ConnectAsync(Host, Protocol.V500, "mqttnet-ws",
            transport: builder => builder.WithWebSocketServer(ws => ws.WithUri($"ws://{transports["ws"]}/mqtt")));
        await onListener.SubscribeAsync("http/#", 0);
        await using var onHttp = await MqttNetClient.ConnectAsync(Host, Protocol.V311, "mqttnet-http",
            transport: builder => builder.WithWebSocketServer(ws => ws.WithUri($"ws://{Host.HttpEndpoint}/mqtt")));

        await onHttp.PublishAsync("http/hello", "from the dashboard's port", 0);

        Assert.Equal([new("http/hello", "from the dashboard's port", 0, false)], await onListener.WaitForMessagesAsync(1));
        var info = Host.Broker.FindSession("mqttnet-http")!.Connection!.Info;
        Assert.Equal((TransportKind.WebSocket, $"ws://{Host.HttpEndpoint}/mqtt"), (info.Transport, info.Listener));
    }

    /// <summary>[MQTT-6.0.0-3], [MQTT-6.0.0-4]: "mqtt" is echoed; so is the client's first choice among the names older clients use.</summary>
    [Theory]
    [InlineData(new[] { "mqtt" }, "mqtt")]
    [InlineData(new[] { "chat", "mqttv3.1", "mqtt" }, "mqttv3.1")]
    [InlineData(new[] { "mqtt-v5", "mqtt" }, "mqtt-v5")]
    [InlineData(new[] { "mqtt-v3.1.1" }, "mqtt-v3.1.1")]
    [InlineData(new[] { "mqtt-v3" }, "mqtt-v3")]
    public async Task The_server_echoes_exactly_one_sub_protocol(string[] offered, string echoed)
    {
        using var socket = await OpenAsync(transports["ws"], offered);

        Assert.Equal(echoed, socket.SubProtocol);
        Assert.Equal(echoed, Assert.Single(socket.HttpResponseHeaders!["Sec-WebSocket-Protocol"]));
    }

    [Fact]
    public async Task A_client_offering_no_mqtt_sub_protocol_is_refused()
    {
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => OpenAsync(transports["ws"], ["chat"]));
        Assert.Contains("400", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>[MQTT-6.0.0-2]: a packet may span WebSocket messages and one message may hold several packets.</summary>
    [Fact]
    public async Task Packets_are_a_byte_stream_across_frames()
    {
        using var socket = await OpenAsync(transports["ws"], ["mqtt"]);

        // CONNECT split over two messages, then SUBSCRIBE a/b and a PUBLISH to a/b together in one.
        await socket.SendAsync(Connect.AsMemory(0, 5), WebSocketMessageType.Binary, endOfMessage: true, default);
        await socket.SendAsync(Connect.AsMemory(5), WebSocketMessageType.Binary, endOfMessage: true, default);
        byte[] subscribe = [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, (byte)'a', (byte)'/', (byte)'b', 0x00];
        byte[] publish = [0x30, 0x07, 0x00, 0x03, (byte)'a', (byte)'/', (byte)'b', (byte)'h', (byte)'i'];
        await socket.SendAsync((byte[])[.. subscribe, .. publish], WebSocketMessageType.Binary, endOfMessage: true, default);

        var received = Convert.ToHexString(await ReceiveAsync(socket, ConnAck.Length + 5 + publish.Length));
        Assert.StartsWith(Convert.ToHexString(ConnAck), received, StringComparison.Ordinal);
        Assert.Contains("9003000100", received, StringComparison.Ordinal); // SUBACK 1: QoS 0 granted
        Assert.Contains(Convert.ToHexString(publish), received, StringComparison.Ordinal);
    }

    /// <summary>[MQTT-6.0.0-1]: a data frame that is not binary closes the connection.</summary>
    [Fact]
    public async Task A_text_frame_closes_the_connection()
    {
        using var socket = await OpenAsync(transports["ws"], ["mqtt"]);
        await socket.SendAsync(Connect, WebSocketMessageType.Binary, endOfMessage: true, default);
        Assert.Equal(ConnAck, await ReceiveAsync(socket, ConnAck.Length));

        await socket.SendAsync("{\"hello\":1}"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, default);

        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, await ReceiveCloseAsync(socket));
    }

    [Fact]
    public async Task A_message_larger_than_the_maximum_packet_size_closes_the_connection()
    {
        using var socket = await OpenAsync(transports["ws"], ["mqtt"]);
        await socket.SendAsync(Connect, WebSocketMessageType.Binary, endOfMessage: true, default);
        Assert.Equal(ConnAck, await ReceiveAsync(socket, ConnAck.Length));

        // PINGREQs, each valid on its own, in one message beyond the broker's 4 096 bytes.
        var pings = new byte[TransportHost.MaximumPacketSize + 2];
        for (var i = 0; i < pings.Length; i += 2)
        {
            pings[i] = 0xC0;
        }

        await socket.SendAsync(pings, WebSocketMessageType.Binary, endOfMessage: true, default);

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await ReceiveCloseAsync(socket));
    }

    /// <summary>RFC 6455 §5.5.1: a client's Close is answered with its code, and the broker sees the client go.</summary>
    [Fact]
    public async Task A_clients_close_is_echoed_and_ends_its_connection()
    {
        using var socket = await OpenAsync(transports["ws"], ["mqtt"]);
        await socket.SendAsync(Connect, WebSocketMessageType.Binary, endOfMessage: true, default);
        Assert.Equal(ConnAck, await ReceiveAsync(socket, ConnAck.Length));

        using var timeout = new CancellationTokenSource(MqttNetClient.Timeout);
        await socket.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, "leaving", timeout.Token);

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, socket.CloseStatus);
        await Poll.UntilAsync(() => Host.Broker.FindSession("w")?.Connection is null);
    }

    /// <summary>
    /// RFC 6455 §5.5.2 and §5.1, on the wire: a Ping between the fragments of a CONNECT is answered with its payload and the
    /// CONNECT still arrives whole; an unmasked frame closes the connection with 1002, and the server drops the
    /// connection after the client's Close.
    /// </summary>
    [Fact]
    public async Task Pings_are_answered_between_fragments_and_an_unmasked_frame_closes_with_1002()
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(transports["ws"]);
        var stream = client.GetStream();
        stream.ReadTimeout = (int)MqttNetClient.Timeout.TotalMilliseconds;
        const string key = "dGhlIHNhbXBsZSBub25jZQ=="; // RFC 6455 §1.3's example, and its answer below
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET /mqtt HTTP/1.1\r\nHost: {transports["ws"]}\r\nUpgrade: websocket\r\n"
            + $"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"));
        var response = await ReadHeadAsync(stream);
        Assert.StartsWith("HTTP/1.1 101", response, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", response, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Sec-WebSocket-Protocol: mqtt", response, StringComparison.OrdinalIgnoreCase);

        await stream.WriteAsync((byte[])[.. MaskedFrame(0x02, Connect[..6]), .. MaskedFrame(0x89, "ping"u8.ToArray()), .. MaskedFrame(0x80, Connect[6..])]);
        Assert.Equal((byte[])[0x8A, 4, .. "ping"u8], await ReadExactlyAsync(stream, 6));
        Assert.Equal((byte[])[0x82, (byte)ConnAck.Length, .. ConnAck], await ReadExactlyAsync(stream, 2 + ConnAck.Length));

        await stream.WriteAsync((byte[])[0x82, 0x02, 0xC0, 0x00]);
        var close = await ReadExactlyAsync(stream, 2);
        Assert.Equal(0x88, close[0]);
        Assert.Equal(1002, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(stream, close[1])));
        await stream.WriteAsync(MaskedFrame(0x88, [0x03, 0xEA]));
        Assert.Equal(0, await stream.ReadAsync(new byte[1]));
    }

    private static byte[] MaskedFrame(byte first, byte[] payload)
    {
        byte[] key = [0x37, 0xFA, 0x21, 0x3D];
        return [first, (byte)(0x80 | payload.Length), .. key, .. payload.Select((b, i) => (byte)(b ^ key[i % 4]))];
    }

    private static async Task<string> ReadHeadAsync(System.Net.Sockets.NetworkStream stream)
    {
        var head = new List<byte>();
        while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
        {
            head.AddRange(await ReadExactlyAsync(stream, 1));
        }

        return System.Text.Encoding.ASCII.GetString([.. head]);
    }

    private static async Task<byte[]> ReadExactlyAsync(System.Net.Sockets.NetworkStream stream, int count)
    {
        using var timeout = new CancellationTokenSource(MqttNetClient.Timeout);
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return buffer;
    }

    [Fact]
    public async Task Browser_pages_connect_from_the_same_origin_or_an_allowed_one()
    {
        var ws = transports["ws"];
        await OpenAsync(ws, ["mqtt"], origin: $"http://{ws}");
        await OpenAsync(Host.HttpEndpoint, ["mqtt"], origin: $"http://{Host.HttpEndpoint}");
        await OpenAsync(transports["origins"], ["mqtt"], origin: "https://app.example.com");
        await OpenAsync(transports["origins"], ["mqtt"]); // not a browser: no Origin

        foreach (var (endpoint, origin) in new[] { (ws, "https://evil.example"), (Host.HttpEndpoint, "https://evil.example"), (transports["origins"], $"http://{ws}") })
        {
            var refused = await Assert.ThrowsAsync<WebSocketException>(() => OpenAsync(endpoint, ["mqtt"], origin));
            Assert.Contains("403", refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task X_forwarded_for_names_the_client_only_behind_a_trusted_proxy()
    {
        // "ws" trusts 127.0.0.1 (Mqtt:TrustedProxies): the last address the trusted hops vouch for is the client.
        Assert.Equal(IPAddress.Parse("198.51.100.2"), await ConnectedFromAsync(transports["ws"], "xff-trusted", "203.0.113.7, 198.51.100.2"));
        Assert.Equal(IPAddress.Parse("198.51.100.3"), await ConnectedFromAsync(transports["ws"], "xff-chain", "198.51.100.3, 127.0.0.1"));

        // "origins" trusts only 10.9.9.9: the header is anyone's word.
        Assert.Equal(IPAddress.Loopback, await ConnectedFromAsync(transports["origins"], "xff-untrusted", "203.0.113.7"));
    }

    private List<string> WebSocket(string listener) => ["--port", transports.Port(listener), "--transport", "websockets", "--path", "/mqtt"];

    private X509Certificate2 Authority() => X509CertificateLoader.LoadCertificateFromFile(transports.Certificates.Authority);

    private MqttClientOptionsBuilder Wss(MqttClientOptionsBuilder builder) =>
        builder.WithWebSocketServer(ws => ws.WithUri($"wss://localhost:{transports["wss"].Port}/mqtt"))
            .WithTlsOptions(tls => tls.UseTls().WithCertificateValidationHandler(e => transports.Certificates.Issued(e.Certificate)));

    private async Task<IPAddress> ConnectedFromAsync(IPEndPoint endpoint, string clientId, string forwardedFor)
    {
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("mqtt");
        socket.Options.SetRequestHeader("X-Forwarded-For", forwardedFor);
        using var timeout = new CancellationTokenSource(MqttNetClient.Timeout);
        await socket.ConnectAsync(new Uri($"ws://{endpoint}/mqtt"), timeout.Token);
        byte[] connect = [0x10, (byte)(12 + clientId.Length), 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C, 0x00,
            (byte)clientId.Length, .. System.Text.Encoding.ASCII.GetBytes(clientId)];
        await socket.SendAsync(connect, WebSocketMessageType.Binary, endOfMessage: true, timeout.Token);
        Assert.Equal(ConnAck, await ReceiveAsync(socket, ConnAck.Length));
        return ((IPEndPoint)Host.Broker.FindSession(clientId)!.Connection!.Info.RemoteEndPoint!).Address;
    }

    private static async Task<ClientWebSocket> OpenAsync(IPEndPoint endpoint, string[] subProtocols, string? origin = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        foreach (var protocol in subProtocols)
        {
            socket.Options.AddSubProtocol(protocol);
        }

        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        using var timeout = new CancellationTokenSource(MqttNetClient.Timeout);
        try
        {
            await socket.ConnectAsync(new Uri($"ws://{endpoint}/mqtt"), timeout.Token);
        }
        catch (WebSocketException e)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            throw new WebSocketException($"{(int)status} {e.Message}");
        }

        return socket;
    }

    /// <summary>Reads binary messages until <paramref name="count"/> bytes have come.</summary>
    private static async Task<byte[]> ReceiveAsync(ClientWebSocket socket, int count)
    {
        using var timeout = new CancellationTokenSource(MqttNetClient.Timeout);
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(read), timeout.Token);
            Assert.Equal(WebSocketMessageType.Binary, result.MessageType);
            read += result.Count;
        }

        return buffer;
    }

    /// <summary>Reads (and drops) what the server still sends until its close frame; returns the close status.</summary>
    private static async Task<WebSocketCloseStatus?> ReceiveCloseAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(MqttNetClient.Timeout);
        var buffer = new byte[4096];
        while ((await socket.ReceiveAsync(buffer.AsMemory(), timeout.Token)).MessageType != WebSocketMessageType.Close)
        {
        }

        return socket.CloseStatus;
    }
}
