using System.Net.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace IoTHub.Web.Transports.Tls;

/// <summary>TLS on a Kestrel listener (tls://, wss:// and the HTTP endpoint over HTTPS), through Kestrel's own TLS middleware.</summary>
internal static class TlsTransport
{
    /// <summary>
    /// The handshake callback rather than a certificate selector: it hands SslStream ready options per certificate
    /// (a cached certificate context, the protocols, the client certificate rule), so SNI and reloads cost no chain
    /// building per handshake. A handshake that has not finished within <paramref name="handshakeTimeout"/> is closed.
    /// After the handshake OpenSSL is told to release the connection's buffers while it is idle (<see cref="TlsIdleBuffers"/>).
    /// </summary>
    public static ListenOptions UseTls(this ListenOptions listen, ServerCertificates certificates, TimeSpan handshakeTimeout)
    {
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = static context => ValueTask.FromResult(((ServerCertificates)context.State!).Select(context.ClientHelloInfo.ServerName)),
            OnConnectionState = certificates,
            HandshakeTimeout = handshakeTimeout,
        });
        var idle = listen.ApplicationServices.GetRequiredService<TlsIdleBuffers>();
        listen.Use(next => connection =>
        {
            if (connection.Features.Get<ISslStreamFeature>() is { } tls)
            {
                idle.Release(tls.SslStream);
            }

            return next(connection);
        });
        return listen;
    }

    /// <summary>
    /// The ALPN names of the HTTP versions a TLS listener speaks, h2 first so that clients able to speak both get HTTP/2.
    /// The handshake callback's options are used as they are, so these must be named there.
    /// </summary>
    public static List<SslApplicationProtocol> ApplicationProtocols(HttpProtocols protocols) =>
    [
        .. protocols.HasFlag(HttpProtocols.Http2) ? [SslApplicationProtocol.Http2] : Array.Empty<SslApplicationProtocol>(),
        .. protocols.HasFlag(HttpProtocols.Http1) ? [SslApplicationProtocol.Http11] : Array.Empty<SslApplicationProtocol>(),
    ];
}
