using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using IoTHub.Broker.Diagnostics;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Hosting;
using Orleans.Runtime;

namespace IoTHub.Cluster.Tls;

/// <summary>
/// Mutual TLS between the nodes (Cluster:Tls, docs/clustering.md#node-to-node-traffic), loaded and checked by the host at start:
/// this node's certificate (with its key), which it shows as server and as client, the CA file its peers' certificates must chain
/// to, and the check that decides it (<paramref name="AcceptsPeer"/>: that CA and only it, never the system's roots; the host's
/// client certificate check, so the rules are those of an MQTT listener's mutual TLS).
/// </summary>
internal sealed record NodeTls(X509Certificate2 Certificate, string CaPath, RemoteCertificateValidationCallback AcceptsPeer)
{
    /// <summary>TLS 1.3 only: every peer is an IoTHub node on .NET 10, so nothing needs 1.2, and 1.3 hides the certificates from the wire.</summary>
    public const SslProtocols Protocols = SslProtocols.Tls13;
}

/// <summary>
/// Puts <see cref="NodeTls"/> on every silo-to-silo connection, both ways (Orleans' TLS middleware, Microsoft.Orleans.Connections.Security;
/// no gateway is opened, so there is no other Orleans connection), and says in the log which mode the node-to-node traffic uses and
/// every handshake that fails, with the peer's address (at most 20 such lines every 10 s): a node of another CA, or whose
/// Cluster:Tls:Enabled differs, never gets past it.
/// </summary>
internal static partial class NodeTraffic
{
    public static void UseNodeTls(this ISiloBuilder silo, NodeTls tls)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(tls);
        // One budget for the node's refusals, both ways: anyone who reaches the port can try, and must not flood the log (DESIGN §2.8).
        var budget = new LogRateLimiter(linesPerPeriod: 20, TimeSpan.FromSeconds(10), TimeProvider.System);
        silo.Configure<SiloConnectionOptions>(options =>
        {
            // The handshake log first, so it wraps the TLS middleware and sees how the handshake ended.
            options.ConfigureSiloInboundConnection(connection =>
            {
                var log = new HandshakeLog(connection, budget, "from");
                connection.Use(log.Wrap).UseServerTls(Options(tls, log));
            });
            options.ConfigureSiloOutboundConnection(connection =>
            {
                var log = new HandshakeLog(connection, budget, "to");
                connection.Use(log.Wrap).UseClientTls(Options(tls, log));
            });
        });
    }

    /// <summary>The log line that says how this node's node-to-node traffic goes (event 1570 or 1571), at the start of the silo.</summary>
    public static void LogModeAtStart(this ISiloBuilder silo, ClusterNodeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(services => new ModeLog(settings, services.GetRequiredService<ILogger<ModeLog>>()));
    }

    private static TlsOptions Options(NodeTls tls, HandshakeLog log) => new()
    {
        LocalCertificate = tls.Certificate,
        SslProtocols = NodeTls.Protocols,
        // Both ends show a certificate, and a peer without one is refused.
        RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
        ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
        // Instead of the system's checks (its roots, the peer's host name): the cluster's CA decides who is a node.
        RemoteCertificateValidation = (certificate, chain, errors) =>
        {
            if (tls.AcceptsPeer(tls, certificate, chain, errors))
            {
                return true;
            }

            log.Refused(certificate, tls.CaPath);
            return false;
        },
    };

    /// <summary>Says which peer certificates were refused, and which connections' handshakes did not complete, within the shared budget.</summary>
    private sealed class HandshakeLog(IConnectionBuilder connection, LogRateLimiter budget, string direction)
    {
        private readonly ILogger _logger = connection.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(NodeTraffic));

        /// <summary>Logs a connection whose TLS handshake did not complete (the TLS middleware inside it left no peer certificate).</summary>
        public ConnectionDelegate Wrap(ConnectionDelegate next) => async context =>
        {
            await next(context).ConfigureAwait(false);
            if (context.Features.Get<ITlsConnectionFeature>() is { RemoteCertificate: null } && budget.TryAcquire(out var suppressed))
            {
                Log.HandshakeFailed(_logger, direction, context.RemoteEndPoint?.ToString() ?? "an unknown address", suppressed);
            }
        };

        public void Refused(X509Certificate2 certificate, string caPath)
        {
            if (budget.TryAcquire(out var suppressed))
            {
                Log.PeerRefused(_logger, certificate.Subject, certificate.Issuer, caPath, suppressed);
            }
        }
    }

    private sealed class ModeLog(ClusterNodeSettings settings, ILogger<ModeLog> logger) : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe(nameof(ModeLog), ServiceLifecycleStage.RuntimeInitialize, _ =>
            {
                var node = ClusterSilo.NodeName(settings);
                if (settings.Tls is { } tls)
                {
                    Log.MutualTls(logger, settings.Name, node, tls.Certificate.Subject, tls.Certificate.NotAfter.ToUniversalTime(), tls.CaPath);
                }
                else
                {
                    Log.Plain(logger, settings.Name, node);
                }

                return Task.CompletedTask;
            });
    }

    private static partial class Log
    {
        [LoggerMessage(1570, LogLevel.Information, "Cluster {Cluster}: node {Node}; node-to-node traffic is mutual TLS (TLS 1.3 only) with the certificate {Subject} " +
            "(valid until {NotAfter:yyyy-MM-dd HH:mm:ss} UTC), peers accepted only with a certificate signed by the CA of {CaPath} (Cluster:Tls)")]
        public static partial void MutualTls(ILogger logger, string cluster, string node, string subject, DateTime notAfter, string caPath);

        [LoggerMessage(1571, LogLevel.Information, "Cluster {Cluster}: node {Node}; node-to-node traffic is plain TCP, neither encrypted nor authenticated " +
            "(Cluster:Tls:Enabled=false): keep the node-to-node port on a private network")]
        public static partial void Plain(ILogger logger, string cluster, string node);

        [LoggerMessage(1572, LogLevel.Warning, "Cluster: a node's certificate refused: {Subject}, issued by {Issuer}, is not signed by the CA of {CaPath} " +
            "(Cluster:Tls:CaPath), or is expired or not for TLS client authentication ({Suppressed} more such lines were left out before)")]
        public static partial void PeerRefused(ILogger logger, string subject, string issuer, string caPath, long suppressed);

        [LoggerMessage(1573, LogLevel.Warning, "Cluster: the node-to-node TLS handshake {Direction} {Peer} failed: that node does not have Cluster:Tls:Enabled=true, " +
            "or one of the two certificates is not signed by the other's CA (Cluster:Tls:CaPath); it cannot join this cluster ({Suppressed} more such lines were left out before)")]
        public static partial void HandshakeFailed(ILogger logger, string direction, string peer, long suppressed);
    }
}
