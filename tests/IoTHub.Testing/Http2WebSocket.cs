using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace IoTHub.Testing;

/// <summary>
/// MQTT over a WebSocket carried by HTTP/2 (RFC 8441), as .NET's ClientWebSocket makes one: HTTP/2 and nothing else
/// (RequestVersionExact; h2 through ALPN over TLS, prior knowledge without), through its own SocketsHttpHandler, which
/// owns the connection the WebSocket is a stream of and so lives as long as it. The server's answer is kept: 200 to the
/// extended CONNECT of HTTP/2, where HTTP/1.1 answers 101. Packets are MQTT 3.1.1, written by hand.
/// </summary>
public sealed class Http2WebSocket : IAsyncDisposable
{
    private readonly HttpMessageInvoker _invoker;

    private Http2WebSocket(ClientWebSocket socket, HttpMessageInvoker invoker)
    {
        Socket = socket;
        _invoker = invoker;
    }

    public ClientWebSocket Socket { get; }

    /// <summary>Opens the WebSocket, offering the "mqtt" sub-protocol; <paramref name="trust"/> decides about the server's certificate.</summary>
    public static async Task<Http2WebSocket> ConnectAsync(Uri uri, Func<X509Certificate?, bool>? trust = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.AddSubProtocol("mqtt");
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = trust is null ? null : (_, certificate, _, _) => trust(certificate) },
        });
        try
        {
            using var timeout = new CancellationTokenSource(MqttTestClient.Timeout);
            await socket.ConnectAsync(uri, invoker, timeout.Token);
            return new Http2WebSocket(socket, invoker);
        }
        catch
        {
            socket.Dispose();
            invoker.Dispose();
            throw;
        }
    }

    /// <summary>CONNECT, clean session, keep-alive 60 s.</summary>
    public static byte[] Connect(string clientId)
    {
        var id = Encoding.UTF8.GetBytes(clientId);
        return [0x10, (byte)(12 + id.Length), 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C, 0x00, (byte)id.Length, .. id];
    }

    /// <summary>CONNACK, session not present, accepted.</summary>
    public static byte[] ConnAck => [0x20, 0x02, 0x00, 0x00];

    /// <summary>PUBLISH at QoS 0 (short topics and payloads only: one byte of remaining length).</summary>
    public static byte[] Publish(string topic, string payload)
    {
        var name = Encoding.UTF8.GetBytes(topic);
        var body = Encoding.UTF8.GetBytes(payload);
        return [0x30, (byte)(2 + name.Length + body.Length), 0x00, (byte)name.Length, .. name, .. body];
    }

    public Task SendAsync(byte[] packet) => Socket.SendAsync(packet, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);

    /// <summary>The next <paramref name="count"/> bytes the server sends, however it frames them.</summary>
    public async Task<byte[]> ReceiveAsync(int count)
    {
        var buffer = new byte[count];
        using var timeout = new CancellationTokenSource(MqttTestClient.Timeout);
        for (var read = 0; read < count;)
        {
            var result = await Socket.ReceiveAsync(buffer.AsMemory(read), timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketException($"closed by the server after {read} of {count} bytes");
            }

            read += result.Count;
        }

        return buffer;
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(MqttTestClient.Timeout);
            await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
        }

        Socket.Dispose();
        _invoker.Dispose();
    }
}
