using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace IoTHub.Web.Transports.Tls;

/// <summary>TLS on a Kestrel listener (tls:// and wss://), through Kestrel's own TLS middleware.</summary>
internal static class TlsTransport
{
    /// <summary>
    /// The handshake callback rather than a certificate selector: it hands SslStream ready options per certificate
    /// (a cached certificate context, the protocols, the client certificate rule), so SNI and reloads cost no chain
    /// building per handshake. A handshake that has not finished within <paramref name="handshakeTimeout"/> is closed.
    /// </summary>
    public static ListenOptions UseMqttTls(this ListenOptions listen, ServerCertificates certificates, TimeSpan handshakeTimeout) =>
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = static context => ValueTask.FromResult(((ServerCertificates)context.State!).Select(context.ClientHelloInfo.ServerName)),
            OnConnectionState = certificates,
            HandshakeTimeout = handshakeTimeout,
        });
}
