using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace IoTHub.LoadTest;

/// <summary>
/// How the tool's clients reach the broker under test: its port, and what each client puts over its connected
/// socket: nothing (tcp), TLS 1.3 trusting only the run's test authority (tls), a WebSocket (ws), or both (wss).
/// </summary>
internal sealed class ClientTransport
{
    /// <summary>
    /// The TLS server name (SNI) the clients ask for. A host name, not 127.0.0.1: .NET keeps TLS sessions for
    /// resumption per target host name, and none for an IP address (checked against <c>openssl s_server -www</c>,
    /// which says "New" or "Reused" per handshake).
    /// </summary>
    public const string HostName = "localhost";

    private readonly SslClientAuthenticationOptions? _tls;

    /// <param name="resumeTlsSessions">
    /// Whether a TLS handshake may resume a session of an earlier connection (TLS 1.3 session tickets, kept by .NET per
    /// target host for the whole process). Otherwise every handshake is a full one.
    /// </param>
    public ClientTransport(int port, Transport kind, X509Certificate2? authority, bool resumeTlsSessions)
    {
        Port = port;
        Kind = kind;
        if (kind.UsesTls())
        {
            var trust = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            trust.CustomTrustStore.Add(authority ?? throw new ArgumentNullException(nameof(authority), "TLS needs the test authority"));
            _tls = new SslClientAuthenticationOptions
            {
                TargetHost = HostName,
                // Only 1.3 offered: a handshake that succeeds is a TLS 1.3 one, whatever the broker allows.
                EnabledSslProtocols = SslProtocols.Tls13,
                CertificateChainPolicy = trust,
                AllowTlsResume = resumeTlsSessions,
            };
        }
    }

    public int Port { get; }

    public Transport Kind { get; }

    /// <summary>The stream the client speaks MQTT over, on a connected socket that it then owns.</summary>
    public async ValueTask<Stream> OpenAsync(Socket socket, CancellationToken cancellation)
    {
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            if (_tls is not null)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsClientAsync(_tls, cancellation).ConfigureAwait(false);
            }

            if (Kind.UsesWebSocket())
            {
                stream = await WebSocketUpgrade.OpenAsync(stream, HostName, Port, cancellation).ConfigureAwait(false);
            }

            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
