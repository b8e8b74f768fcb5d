using System.Diagnostics.CodeAnalysis;
using System.Net;
using IoTHub.Web.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace IoTHub.Web.Transports.WebSockets;

/// <summary>
/// The keys of a ws://, wss:// or detect:// listener: which browser pages may connect (AllowedOrigins), whose
/// X-Forwarded-For header is believed (TrustedProxies, by default "Mqtt:TrustedProxies"), and the HTTP versions it speaks
/// (HttpProtocols): WebSockets over HTTP/2 are RFC 8441's extended CONNECT.
/// </summary>
internal sealed record WebSocketSettings(IReadOnlyList<string> AllowedOrigins, IReadOnlyList<IPNetwork> TrustedProxies, HttpProtocols Protocols)
{
    private const string AnyOrigin = "*";

    private const string ProtocolsKey = "HttpProtocols";

    /// <summary>
    /// The HTTP versions a port can speak: wss (and HTTPS) both, agreed per connection by ALPN; a cleartext port one of them,
    /// since Kestrel cannot tell them apart without TLS (it takes HTTP/1.1 then, and never upgrades to h2c).
    /// </summary>
    public static HttpProtocols DefaultProtocols(bool secure) => secure ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;

    /// <summary>
    /// The keys of a ws://, wss:// or detect:// listener. A detect listener speaks HTTP/1.1 only: it tells HTTP from MQTT
    /// and TLS by the first byte of a GET, and offers no ALPN inside TLS.
    /// </summary>
    public static WebSocketSettings Read(SectionReader reader, IReadOnlyList<IPNetwork> defaultProxies, ListenerScheme scheme)
    {
        var secure = scheme == ListenerScheme.Wss;
        var origins = reader.Items<string>("AllowedOrigins", TryParseOrigin, "is not an origin such as https://app.example.com, or *.");
        var protocols = reader.Read(ProtocolsKey, DefaultProtocols(secure), static (string raw, out HttpProtocols value) =>
            Enum.TryParse(raw, ignoreCase: true, out value) && value is HttpProtocols.Http1 or HttpProtocols.Http2 or HttpProtocols.Http1AndHttp2,
            "is not Http1, Http2 or Http1AndHttp2.");
        if (scheme == ListenerScheme.Detect && protocols != HttpProtocols.Http1)
        {
            reader.Fail(ProtocolsKey, "can only be Http1 on a detect:// listener: it tells HTTP from MQTT and TLS by the first byte of a GET "
                + "and offers no ALPN inside TLS; use a ws:// or wss:// listener for WebSockets over HTTP/2.");
        }
        else if (!secure && protocols == HttpProtocols.Http1AndHttp2)
        {
            reader.Fail(ProtocolsKey, "cannot be Http1AndHttp2 on a ws:// listener: without TLS a port speaks one HTTP version (Http2 takes clients "
                + "that speak HTTP/2 with prior knowledge, h2c); wss:// speaks both.");
        }

        return new WebSocketSettings(origins, Transports.TrustedProxies.Read(reader, defaultProxies), protocols);
    }

    /// <summary>
    /// A request without Origin comes from a program, not from a browser page, and is allowed. A browser page is
    /// allowed when it comes from the host and port it connects to (the dashboard's pages on the HTTP endpoint; the
    /// scheme is not compared, as paho-mqtt always sends https) or its origin is in the list; "*" allows every page.
    /// </summary>
    public bool AllowsOrigin(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return true;
        }

        if (!TryParseOrigin(origin, out var normalised))
        {
            return false;
        }

        foreach (var allowed in AllowedOrigins)
        {
            if (allowed == AnyOrigin || allowed.Equals(normalised, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        var page = new Uri(normalised);
        return page.Host.Equals(request.Host.Host, StringComparison.OrdinalIgnoreCase)
            && page.Port == (request.Host.Port ?? (request.IsHttps ? 443 : 80));
    }

    /// <summary>
    /// The client's end: the peer's, or, when the peer is a trusted proxy, the last address of X-Forwarded-For
    /// that no trusted proxy added (read from the right, each trusted hop vouching for the one before it), with port 0.
    /// </summary>
    public IPEndPoint ClientEndPoint(HttpContext context)
    {
        var peer = Transports.TrustedProxies.Unmapped(context.Connection.RemoteIpAddress ?? IPAddress.None);
        if (TrustedProxies.Count == 0 || !IsTrusted(peer))
        {
            return new IPEndPoint(peer, context.Connection.RemotePort);
        }

        var client = peer;

        var hops = context.Request.Headers["X-Forwarded-For"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = hops.Length - 1; i >= 0 && IsTrusted(client); i--)
        {
            if (!IPAddress.TryParse(hops[i], out var hop))
            {
                break;
            }

            client = Transports.TrustedProxies.Unmapped(hop);
        }

        return new IPEndPoint(client, 0);
    }

    private bool IsTrusted(IPAddress address) => Transports.TrustedProxies.Contains(TrustedProxies, address);

    private static bool TryParseOrigin(string raw, [MaybeNullWhen(false)] out string origin)
    {
        origin = raw == AnyOrigin ? raw : Normalise(raw);
        return origin is not null;
    }

    /// <summary>scheme://host[:port] with the scheme's default port left out, or null when <paramref name="raw"/> is not an origin.</summary>
    private static string? Normalise(string raw) =>
        Uri.TryCreate(raw, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/" && uri.Query.Length == 0
            ? uri.GetLeftPart(UriPartial.Authority)
            : null;
}
