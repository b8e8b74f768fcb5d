using System.Diagnostics.CodeAnalysis;
using System.Net;
using IoTHub.Web.Transports.Tls;
using IoTHub.Web.Transports.WebSockets;

namespace IoTHub.Web.Configuration;

/// <summary>How a listener carries MQTT: plain TCP, TLS, WebSocket or WebSocket over TLS (docs/transports.md).</summary>
internal enum ListenerScheme
{
    Tcp,
    Tls,
    Ws,
    Wss,
}

/// <summary>
/// One MQTT listener of a broker: the one at "Mqtt:Address"/"Mqtt:Port" (named "default"), or one of
/// "Mqtt:Listeners:{name}:Url": <c>tcp://</c>, <c>tls://</c>, <c>ws://</c> or <c>wss://</c> with a literal IP
/// address, a port and, for WebSockets, a path (<c>/mqtt</c> when the URL has none). TLS and WebSocket
/// listeners carry their settings.
/// </summary>
internal sealed record MqttListenerUrl(string Name, IPAddress Address, int Port)
{
    public const string DefaultName = "default";

    public const string DefaultWebSocketPath = "/mqtt";

    public const string Problem = "is not an MQTT listener URL: tcp://, tls://, ws:// or wss:// with an IP address and a port "
        + "(and for ws/wss a path), e.g. tcp://0.0.0.0:1883, tls://[::1]:8883 or wss://0.0.0.0:8084/mqtt.";

    public ListenerScheme Scheme { get; init; } = ListenerScheme.Tcp;

    /// <summary>The path WebSocket clients ask for (ws and wss only); empty otherwise.</summary>
    public string Path { get; init; } = string.Empty;

    /// <summary>Certificates and client certificate rules (tls and wss only).</summary>
    public TlsSettings? Tls { get; init; }

    /// <summary>Origins and trusted proxies (ws and wss only).</summary>
    public WebSocketSettings? WebSocket { get; init; }

    public bool IsSecure => Scheme is ListenerScheme.Tls or ListenerScheme.Wss;

    public bool IsWebSocket => Scheme is ListenerScheme.Ws or ListenerScheme.Wss;

    /// <summary>Whether only this machine can reach the listener (127.0.0.0/8, ::1), whatever its scheme.</summary>
    public bool IsLoopback => IsLoopbackAddress(Address);

    /// <summary>127.0.0.0/8 and ::1, also written as IPv4 in IPv6 form.</summary>
    public static bool IsLoopbackAddress(IPAddress address) => IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    /// <summary>The listener's name in metrics, logs and the API: its URL with the endpoint it really holds (port 0 resolved).</summary>
    public string Format(IPEndPoint bound) => $"{Scheme.ToString().ToLowerInvariant()}://{bound}{Path}";

    public static bool TryParse(string name, string raw, [NotNullWhen(true)] out MqttListenerUrl? listener)
    {
        listener = null;
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || !Enum.TryParse(uri.Scheme, ignoreCase: true, out ListenerScheme scheme)
            || uri.Port < 0
            || uri.HostNameType is not (UriHostNameType.IPv4 or UriHostNameType.IPv6)
            || uri.Query.Length > 0 || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0
            || !IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address))
        {
            return false;
        }

        var webSocket = scheme is ListenerScheme.Ws or ListenerScheme.Wss;
        var path = uri.AbsolutePath;
        if (!webSocket && path != "/")
        {
            return false;
        }

        // "ws://host:port" without a path serves /mqtt, the path most clients use by default.
        listener = new MqttListenerUrl(name, address, uri.Port)
        {
            Scheme = scheme,
            Path = !webSocket ? string.Empty : path == "/" && !raw.EndsWith('/') ? DefaultWebSocketPath : path,
        };
        return true;
    }
}
