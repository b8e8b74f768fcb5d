using System.Diagnostics.CodeAnalysis;
using System.Net;
using IoTHub.Web.Transports.Limits;
using IoTHub.Web.Transports.Proxy;
using IoTHub.Web.Transports.Tls;
using IoTHub.Web.Transports.Unix;
using IoTHub.Web.Transports.WebSockets;

namespace IoTHub.Web.Configuration;

/// <summary>
/// How a listener carries MQTT: plain TCP, TLS, WebSocket, WebSocket over TLS, a Unix socket, or any of tcp, tls, ws and
/// wss on one port, told apart by the first bytes (docs/transports.md).
/// </summary>
internal enum ListenerScheme
{
    Tcp,
    Tls,
    Ws,
    Wss,
    Unix,
    Detect,
}

/// <summary>
/// One MQTT listener of a broker: the one at "Mqtt:Address"/"Mqtt:Port" (named "default"), or one of
/// "Mqtt:Listeners:{name}:Url": <c>tcp://</c>, <c>tls://</c>, <c>ws://</c>, <c>wss://</c> or <c>detect://</c> with a literal
/// IP address, a port and, for WebSockets, a path (<c>/mqtt</c> when the URL has none), or <c>unix:///path/to.sock</c>.
/// Each listener carries the settings of its scheme and its own limits.
/// </summary>
internal sealed record MqttListenerUrl(string Name, IPAddress Address, int Port)
{
    public const string DefaultName = "default";

    public const string DefaultWebSocketPath = "/mqtt";

    public const string Problem = "is not an MQTT listener URL: tcp://, tls://, ws://, wss:// or detect:// with an IP address and a port "
        + "(and for ws/wss/detect a path), e.g. tcp://0.0.0.0:1883, tls://[::1]:8883 or wss://0.0.0.0:8084/mqtt, or unix:///run/iothub/mqtt.sock.";

    public ListenerScheme Scheme { get; init; } = ListenerScheme.Tcp;

    /// <summary>The path WebSocket clients ask for (ws and wss only); empty otherwise.</summary>
    public string Path { get; init; } = string.Empty;

    /// <summary>Certificates and client certificate rules (tls and wss only).</summary>
    public TlsSettings? Tls { get; init; }

    /// <summary>Origins and trusted proxies (ws, wss and detect only).</summary>
    public WebSocketSettings? WebSocket { get; init; }

    /// <summary>The socket file, its mode and owners (unix only).</summary>
    public UnixSocketSettings? Unix { get; init; }

    /// <summary>Whether connections start with a PROXY protocol header, and from whom it is believed; null: they do not.</summary>
    public ProxyProtocolSettings? ProxyProtocol { get; init; }

    /// <summary>The listener's connection limits; null: none.</summary>
    public ConnectionLimits? Limits { get; init; }

    /// <summary>Whether clients without a user name may connect here; null: as "Security:AllowAnonymous" says.</summary>
    public bool? AllowAnonymous { get; init; }

    public bool IsSecure => Scheme is ListenerScheme.Tls or ListenerScheme.Wss;

    public bool IsWebSocket => Scheme is ListenerScheme.Ws or ListenerScheme.Wss;

    /// <summary>Whether the listener may hold TLS settings: it must (tls, wss) or may (detect).</summary>
    public bool TakesTls => IsSecure || Scheme == ListenerScheme.Detect;

    /// <summary>Whether the listener serves MQTT over WebSocket: only (ws, wss) or among others (detect).</summary>
    public bool TakesWebSocket => IsWebSocket || Scheme == ListenerScheme.Detect;

    /// <summary>Whether only this machine can reach the listener: a Unix socket, or 127.0.0.0/8 and ::1 whatever the scheme.</summary>
    public bool IsLoopback => Scheme == ListenerScheme.Unix || IsLoopbackAddress(Address);

    /// <summary>127.0.0.0/8 and ::1, also written as IPv4 in IPv6 form.</summary>
    public static bool IsLoopbackAddress(IPAddress address) => IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    /// <summary>
    /// The listener's name in metrics, logs and the API: its URL with the endpoint it really holds (port 0 resolved;
    /// a Unix socket's path, so <c>unix:///run/iothub/mqtt.sock</c>).
    /// </summary>
    public string Format(EndPoint bound) => $"{Scheme.ToString().ToLowerInvariant()}://{bound}{Path}";

    public static bool TryParse(string name, string raw, [NotNullWhen(true)] out MqttListenerUrl? listener)
    {
        listener = null;
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || !Enum.TryParse(uri.Scheme, ignoreCase: true, out ListenerScheme scheme))
        {
            return false;
        }

        if (scheme == ListenerScheme.Unix)
        {
            return UnixSocketSettings.TryParseUrl(name, uri, out listener);
        }

        if (uri.Port < 0
            || uri.HostNameType is not (UriHostNameType.IPv4 or UriHostNameType.IPv6)
            || uri.Query.Length > 0 || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0
            || !IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address))
        {
            return false;
        }

        var webSocket = scheme is ListenerScheme.Ws or ListenerScheme.Wss or ListenerScheme.Detect;
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
