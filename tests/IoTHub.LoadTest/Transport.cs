namespace IoTHub.LoadTest;

/// <summary>How the tool's clients reach a broker (issue 16). TLS is 1.3 only; WebSockets are HTTP/1.1 upgrades to the sub-protocol <c>mqtt</c>.</summary>
internal enum Transport
{
    Tcp,
    Tls,
    WebSocket,
    SecureWebSocket,
}

internal static class TransportNames
{
    /// <summary>The option's and the rows' name: <c>tcp</c>, <c>tls</c>, <c>ws</c> or <c>wss</c> (also the broker URL's scheme).</summary>
    public static string Name(this Transport transport) => transport switch
    {
        Transport.Tcp => "tcp",
        Transport.Tls => "tls",
        Transport.WebSocket => "ws",
        _ => "wss",
    };

    public static Transport Parse(string name) => name.ToLowerInvariant() switch
    {
        "tcp" => Transport.Tcp,
        "tls" => Transport.Tls,
        "ws" => Transport.WebSocket,
        "wss" => Transport.SecureWebSocket,
        _ => throw new ArgumentException("unknown transport " + name + " (tcp, tls, ws or wss)"),
    };

    public static bool UsesTls(this Transport transport) => transport is Transport.Tls or Transport.SecureWebSocket;

    public static bool UsesWebSocket(this Transport transport) => transport is Transport.WebSocket or Transport.SecureWebSocket;
}
