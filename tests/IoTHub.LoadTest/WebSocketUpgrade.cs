using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;

namespace IoTHub.LoadTest;

/// <summary>
/// The client's side of MQTT over WebSocket (MQTT 5.0 §6): an HTTP/1.1 upgrade (RFC 6455 §4) on the tcp or TLS
/// stream, asking for the sub-protocol <c>mqtt</c>, and the framework's client WebSocket over it. Written here rather
/// than through ClientWebSocket so that every transport shares the tool's own socket (its options, its port).
/// </summary>
internal static class WebSocketUpgrade
{
    /// <summary>The path every broker's WebSocket listener is asked on.</summary>
    public const string Path = "/mqtt";

    public const string SubProtocol = "mqtt";

    /// <summary>RFC 6455 §1.3: the server proves it read the key by hashing it with this GUID.</summary>
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private const int MaxResponseHead = 4096;

    /// <summary>
    /// Upgrades <paramref name="stream"/> and returns MQTT's byte stream over the WebSocket. Throws when the broker
    /// does not switch protocols, does not choose <c>mqtt</c> or proves the wrong key.
    /// </summary>
    public static async ValueTask<Stream> OpenAsync(Stream stream, string host, int port, CancellationToken cancellation)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = $"GET {Path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {SubProtocol}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cancellation).ConfigureAwait(false);
        await stream.FlushAsync(cancellation).ConfigureAwait(false);
        CheckResponse(await ReadResponseHeadAsync(stream, cancellation).ConfigureAwait(false), key);
        var webSocket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
        {
            IsServer = false,
            SubProtocol = SubProtocol,
            // No WebSocket pings: MQTT has its own keep-alive, and the idle rows must not pay a timer per connection.
            KeepAliveInterval = TimeSpan.Zero,
        });
        return new WebSocketByteStream(webSocket);
    }

    /// <summary>
    /// The status line and headers, up to the empty line. An MQTT broker says nothing before the client's CONNECT,
    /// so nothing may follow them yet: the WebSocket must start reading where the head ends.
    /// </summary>
    private static async ValueTask<string> ReadResponseHeadAsync(Stream stream, CancellationToken cancellation)
    {
        var buffer = new byte[MaxResponseHead];
        var length = 0;
        while (true)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellation).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("the broker closed the connection during the WebSocket upgrade");
            }

            length += read;
            var end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                if (end + 4 != length)
                {
                    throw new InvalidOperationException("the broker sent data after its WebSocket upgrade before CONNECT");
                }

                return Encoding.ASCII.GetString(buffer, 0, end);
            }

            if (length == buffer.Length)
            {
                throw new InvalidOperationException("the broker's WebSocket upgrade answer is longer than " + MaxResponseHead + " bytes");
            }
        }
    }

    private static void CheckResponse(string head, string key)
    {
        var lines = head.Split("\r\n");
        if (!lines[0].StartsWith("HTTP/1.1 101 ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("the broker refused the WebSocket upgrade: " + lines[0]);
        }

        string? protocol = null;
        string? accept = null;
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? line : line[..colon];
            if (name.Equals("Sec-WebSocket-Protocol", StringComparison.OrdinalIgnoreCase))
            {
                protocol = line[(colon + 1)..].Trim();
            }
            else if (name.Equals("Sec-WebSocket-Accept", StringComparison.OrdinalIgnoreCase))
            {
                accept = line[(colon + 1)..].Trim();
            }
        }

        // [MQTT-6.0.0-4]: the server picks one of the offered sub-protocols.
        if (protocol != SubProtocol)
        {
            throw new InvalidOperationException($"the broker chose the WebSocket sub-protocol '{protocol}', not '{SubProtocol}'");
        }

#pragma warning disable CA5350 // RFC 6455 §4.2.2 defines the accept value with SHA-1; it proves nothing secret.
        var expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));
#pragma warning restore CA5350
        if (accept != expected)
        {
            throw new InvalidOperationException("the broker's Sec-WebSocket-Accept does not match the key");
        }
    }
}
