using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace IoTHub.Web.Transports.Tls;

/// <summary>
/// The certificates of one TLS listener (or of the HTTP endpoint over HTTPS) at run time. Each handshake gets the options of the certificate its SNI
/// host name asks for (the first one when none matches), built once per certificate with a cached
/// <see cref="SslStreamCertificateContext"/>. At most once a second a handshake also looks at the files: when one
/// changed (a certbot renewal), that certificate is loaded again and new handshakes use it; established connections
/// keep theirs. New files that cannot be used are logged and the loaded certificate stays. The client certificate
/// authority and revocation list are looked at with them.
/// </summary>
internal sealed partial class ServerCertificates
{
    private const long CheckIntervalMilliseconds = 1000;

    private readonly TlsSettings _settings;
    private readonly ClientCertificateValidator? _clients;
    private readonly List<SslApplicationProtocol>? _applicationProtocols;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _reloading = new();
    private Entry[] _entries;
    private long _nextCheck;

    /// <param name="settings">The listener's certificates and client certificate rule, as read (and loaded) at start.</param>
    /// <param name="applicationProtocols">The ALPN protocols to agree on (h2 and HTTP/1.1 for wss and https), or null for none (MQTT over TLS).</param>
    /// <param name="time">The clock client certificates are checked against.</param>
    /// <param name="logger">Where reloads are logged.</param>
    public ServerCertificates(TlsSettings settings, List<SslApplicationProtocol>? applicationProtocols, TimeProvider time, ILogger logger)
    {
        _settings = settings;
        _applicationProtocols = applicationProtocols;
        _time = time;
        _logger = logger;
        _clients = settings.ClientAuthority is { } authority
            ? new ClientCertificateValidator(authority, settings.ClientCertificates, time, logger)
            : null;
        _entries = [.. settings.Certificates.Select(Build)];
        _nextCheck = Environment.TickCount64 + CheckIntervalMilliseconds;
    }

    /// <summary>The options of the handshake of a client asking for <paramref name="serverName"/>.</summary>
    public SslServerAuthenticationOptions Select(string? serverName)
    {
        CheckFiles();
        return Find(serverName).Options;
    }

    /// <summary>
    /// The certificates new handshakes get, the SNI default first, after the same look at the files a handshake takes: a
    /// renewal shows here (the admin API, the expiry metric) even while no client connects.
    /// </summary>
    public IReadOnlyList<ServerCertificate> Current
    {
        get
        {
            CheckFiles();
            return [.. Volatile.Read(ref _entries).Select(static entry => entry.Certificate)];
        }
    }

    private void CheckFiles()
    {
        var now = Environment.TickCount64;
        var next = Volatile.Read(ref _nextCheck);
        if (now >= next && Interlocked.CompareExchange(ref _nextCheck, now + CheckIntervalMilliseconds, next) == next)
        {
            ReloadChanged();
        }
    }

    private Entry Find(string? serverName)
    {
        var entries = Volatile.Read(ref _entries);
        if (serverName is not null)
        {
            foreach (var entry in entries)
            {
                if (entry.Certificate.Serves(serverName))
                {
                    return entry;
                }
            }
        }

        return entries[0];
    }

    private void ReloadChanged()
    {
        lock (_reloading)
        {
            _clients?.ReloadChanged();
            var entries = _entries;
            Entry[]? changed = null;
            for (var i = 0; i < entries.Length; i++)
            {
                var files = entries[i].Certificate.Files;
                var stamp = files.Stamp();
                if (stamp == entries[i].Stamp)
                {
                    continue;
                }

                changed ??= [.. entries];
                try
                {
                    changed[i] = Build(ServerCertificate.Load(files, _time.GetUtcNow()));
                    LogReloaded(_logger, files.Certificate, changed[i].Certificate.Certificate.Thumbprint);
                }
                catch (Exception e) when (e is CertificateProblemException or IOException or UnauthorizedAccessException)
                {
                    // Remembered as seen: a certificate half written (new certificate, old key) is tried again once the key changes too.
                    changed[i] = entries[i] with { Stamp = stamp };
                    LogReloadFailed(_logger, files.Certificate, e.Message);
                }
            }

            if (changed is not null)
            {
                Volatile.Write(ref _entries, changed);
            }
        }
    }

    private Entry Build(ServerCertificate certificate) => new(certificate, certificate.Stamp, new SslServerAuthenticationOptions
    {
        ServerCertificateContext = SslStreamCertificateContext.Create(certificate.Certificate, certificate.Intermediates, offline: true),
        EnabledSslProtocols = _settings.Protocols,
        ApplicationProtocols = _applicationProtocols,
        ClientCertificateRequired = _clients is not null,
        RemoteCertificateValidationCallback = _clients is null ? null : new RemoteCertificateValidationCallback(_clients.Validate),
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    });

    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "TLS certificate {Path} reloaded (thumbprint {Thumbprint}); new handshakes use it")]
    private static partial void LogReloaded(ILogger logger, string path, string thumbprint);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "TLS certificate {Path} changed but cannot be used, the loaded one stays: {Problem}")]
    private static partial void LogReloadFailed(ILogger logger, string path, string problem);

    private sealed record Entry(ServerCertificate Certificate, (FileStamp, FileStamp) Stamp, SslServerAuthenticationOptions Options);
}
