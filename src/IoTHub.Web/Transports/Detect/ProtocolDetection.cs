using IoTHub.Web.Transports.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace IoTHub.Web.Transports.Detect;

/// <summary>
/// detect:// listeners: one port for tcp, tls, ws and wss. The first byte a client sends decides: 0x16 starts a TLS
/// handshake record (a ClientHello), 0x10 an MQTT CONNECT (the first packet of every MQTT connection [MQTT-3.1.0-1]),
/// 'G' an HTTP request ("GET", the WebSocket upgrade). Inside TLS the first byte decides again between MQTT and HTTP.
/// Anything else, or nothing within the connect timeout, closes the connection with a log line. The byte is looked
/// at, not taken: TLS, MQTT and HTTP read the stream from its start. A connection pays for this once.
/// </summary>
internal sealed class ProtocolDetection(ConnectionDelegate mqtt, bool tls, TimeSpan timeout, RefusedConnections refused)
{
    private const byte TlsHandshake = 0x16;
    private const byte MqttConnect = 0x10;
    private const byte HttpGet = (byte)'G';

    /// <summary>Kestrel's HTTP server, the end of the listener's middleware (set when Kestrel builds it).</summary>
    private ConnectionDelegate? _http;

    /// <summary>
    /// Detection, then Kestrel's TLS middleware (with the listener's certificates, when it has any), then detection
    /// inside TLS, then Kestrel's HTTP/1.1 server for WebSockets.
    /// </summary>
    public static void Use(ListenOptions listen, ConnectionDelegate mqtt, ServerCertificates? certificates, TimeSpan timeout, RefusedConnections refused)
    {
        var detection = new ProtocolDetection(mqtt, certificates is not null, timeout, refused);
        listen.Use(next => connection => detection.BeforeTlsAsync(connection, next));
        if (certificates is not null)
        {
            listen.UseTls(certificates, timeout);
        }

        listen.Use(next =>
        {
            detection._http = next;
            return connection => detection.InsideTlsAsync(connection, next);
        });
        listen.Protocols = HttpProtocols.Http1;
    }

    private Task BeforeTlsAsync(ConnectionContext connection, ConnectionDelegate tlsThenInside) =>
        DispatchAsync(connection, _http!, tls ? tlsThenInside : null, insideTls: false);

    private Task InsideTlsAsync(ConnectionContext connection, ConnectionDelegate http) => DispatchAsync(connection, http, null, insideTls: true);

    /// <param name="connection">The client's connection, its first byte not read yet.</param>
    /// <param name="http">Kestrel's HTTP server.</param>
    /// <param name="tlsThenInside">TLS, then detection inside it; null when there is no TLS to start (none configured, or already inside).</param>
    /// <param name="insideTls">Whether the connection is inside TLS already (for the log line).</param>
    private async Task DispatchAsync(ConnectionContext connection, ConnectionDelegate http, ConnectionDelegate? tlsThenInside, bool insideTls)
    {
        switch (await FirstByteAsync(connection))
        {
            case MqttConnect:
                await mqtt(connection);
                break;
            case HttpGet:
                await http(connection);
                break;
            case TlsHandshake when tlsThenInside is not null:
                await tlsThenInside(connection);
                break;
            case TlsHandshake when !insideTls:
                refused.Log(connection, "it starts a TLS handshake and the listener has no Certificate");
                break;
            case { } other:
                refused.Log(connection, insideTls
                    ? $"its first byte inside TLS 0x{other:X2} starts neither an MQTT CONNECT nor an HTTP request"
                    : $"its first byte 0x{other:X2} starts neither a TLS handshake, an MQTT CONNECT nor an HTTP request");
                break;
        }
    }

    /// <summary>The first byte, left in the stream; null (logged) when the client sends nothing in time or closes.</summary>
    private async ValueTask<byte?> FirstByteAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            var result = await input.ReadAsync(deadline.Token);
            var buffer = result.Buffer;
            byte? first = buffer.IsEmpty ? null : buffer.FirstSpan[0];

            // Consumed and examined nothing: the next reader gets these bytes at once.
            input.AdvanceTo(buffer.Start);
            if (first is null)
            {
                refused.Log(connection, "it ended before sending a byte");
            }

            return first;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            refused.Log(connection, $"it sent nothing within {timeout.TotalSeconds:0.###} s (Mqtt:ConnectTimeout)");
            return null;
        }
    }
}
