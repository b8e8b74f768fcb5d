using System.Security.Authentication;
using System.Security.Cryptography;
using IoTHub.Broker.Security.Certificates;
using IoTHub.Web.Configuration;

namespace IoTHub.Web.Transports.Tls;

/// <summary>Whether a TLS listener asks clients for a certificate (mutual TLS).</summary>
internal enum ClientCertificateRequirement
{
    /// <summary>No certificate is asked for.</summary>
    None,

    /// <summary>One is asked for; a client without one is accepted, one with a certificate that does not chain to the authority is refused.</summary>
    Optional,

    /// <summary>A client without a certificate that chains to the authority is refused in the handshake.</summary>
    Required,
}

/// <summary>
/// The TLS keys of a tls://, wss:// or detect:// listener ("Mqtt:Listeners:{name}:...") or of the HTTP endpoint ("Http:..."), read and
/// checked at start: every certificate file is loaded then, so a missing, expired or mismatched one is listed with the other
/// bad settings.
/// </summary>
internal sealed record TlsSettings(
    IReadOnlyList<ServerCertificate> Certificates,
    SslProtocols Protocols,
    ClientCertificateRequirement ClientCertificates,
    ClientAuthority? ClientAuthority,
    CertificateIdentity CertificateIdentity)
{
    /// <summary>TLS 1.2 and 1.3; both ends agree on 1.3 when both offer it.</summary>
    public const SslProtocols DefaultProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    private const string CertificateKey = "Certificate";
    private const string KeyKey = "CertificateKey";
    private const string PasswordKey = "CertificatePassword";

    /// <summary>
    /// Reads the TLS keys of one listener; null (with the problems recorded) when a certificate cannot be used, or when
    /// none is set and TLS is not <paramref name="required"/> (a detect:// listener without TLS).
    /// </summary>
    public static TlsSettings? Read(SectionReader reader, DateTimeOffset now, bool required)
    {
        var problems = reader.Errors.Count;
        var certificates = ReadServerCertificates(reader, now);
        if (certificates.Count == 0 && reader.Errors.Count == problems && !required)
        {
            return null;
        }

        if (certificates.Count == 0 && reader.Errors.Count == problems)
        {
            reader.Fail(CertificateKey, "must be set for a tls:// or wss:// listener (a PEM or PFX file; Certificates:{n}:Certificate for several).");
        }

        var protocols = ReadProtocols(reader);
        var clients = reader.Choice("ClientCertificates", ClientCertificateRequirement.None);
        var authority = ReadAuthority(reader, clients);
        var identity = reader.Choice(nameof(CertificateIdentity), CertificateIdentity.None);
        if (identity != CertificateIdentity.None && clients == ClientCertificateRequirement.None)
        {
            reader.Fail(nameof(CertificateIdentity), "needs ClientCertificates Optional or Required: without a client certificate there is no identity.");
        }

        return reader.Errors.Count > problems ? null : new TlsSettings(certificates, protocols, clients, authority, identity);
    }

    /// <summary>
    /// The TLS keys of the HTTP endpoint: the same certificate keys as a listener's, without client certificates. Null when
    /// no certificate is set (plain HTTP), or when one cannot be used (recorded).
    /// </summary>
    public static TlsSettings? ReadOptional(SectionReader reader, DateTimeOffset now)
    {
        var problems = reader.Errors.Count;
        var certificates = ReadServerCertificates(reader, now);
        var protocols = ReadProtocols(reader);
        return certificates.Count == 0 || reader.Errors.Count > problems
            ? null
            : new TlsSettings(certificates, protocols, ClientCertificateRequirement.None, null, CertificateIdentity.None);
    }

    /// <summary>"Certificate" (with its key and password) and "Certificates:{n}:...".</summary>
    private static List<ServerCertificate> ReadServerCertificates(SectionReader reader, DateTimeOffset now)
    {
        List<ServerCertificate> certificates = [];
        if (reader.Text(CertificateKey, string.Empty) is { Length: > 0 })
        {
            ReadCertificate(reader, now, certificates);
        }
        else
        {
            foreach (var orphan in (ReadOnlySpan<string>)[KeyKey, PasswordKey])
            {
                if (reader.Text(orphan, string.Empty).Length > 0)
                {
                    reader.Fail(orphan, $"is set without {CertificateKey}.");
                }
            }
        }

        foreach (var child in reader.Children("Certificates"))
        {
            child.Require(CertificateKey);
            ReadCertificate(child, now, certificates);
            child.RejectUnknownKeys();
        }

        return certificates;
    }

    private static SslProtocols ReadProtocols(SectionReader reader)
    {
        var protocols = reader.Items<SslProtocols>("TlsProtocols", TryParseProtocol, "is not Tls12 or Tls13.").Aggregate(SslProtocols.None, static (all, p) => all | p);
        return protocols == SslProtocols.None ? DefaultProtocols : protocols;
    }

    private static void ReadCertificate(SectionReader reader, DateTimeOffset now, List<ServerCertificate> certificates)
    {
        var path = reader.Text(CertificateKey, string.Empty);
        var key = reader.Text(KeyKey, string.Empty);
        var password = reader.Text(PasswordKey, string.Empty);
        if (path.Length == 0)
        {
            return;
        }

        try
        {
            certificates.Add(ServerCertificate.Load(new CertificateFiles(Path.GetFullPath(path), key.Length == 0 ? null : Path.GetFullPath(key),
                password.Length == 0 ? null : password), now));
        }
        catch (CertificateProblemException e)
        {
            reader.Fail(CertificateKey, e.Message);
        }
    }

    /// <summary>
    /// The PEM bundle client certificates must chain to, and the revocation lists of its authorities; required when
    /// clients are asked for a certificate, and only then loaded (null otherwise).
    /// </summary>
    private static ClientAuthority? ReadAuthority(SectionReader reader, ClientCertificateRequirement clients)
    {
        var path = reader.Text(ClientAuthority.AuthorityKey, string.Empty);
        var revocation = reader.Text(ClientAuthority.RevocationListKey, string.Empty);
        if (clients == ClientCertificateRequirement.None)
        {
            return null;
        }

        if (path.Length == 0)
        {
            reader.Fail(ClientAuthority.AuthorityKey, $"must be set when ClientCertificates is {clients} (a PEM file of the certificate authorities that client certificates must chain to).");
            return null;
        }

        try
        {
            return ClientAuthority.Load(Path.GetFullPath(path), revocation.Length == 0 ? null : Path.GetFullPath(revocation));
        }
        catch (CertificateProblemException e)
        {
            reader.Fail(e.Key ?? ClientAuthority.AuthorityKey, e.Message);
            return null;
        }
    }

    private static bool TryParseProtocol(string raw, out SslProtocols protocol)
    {
        protocol = raw.ToUpperInvariant() switch
        {
            "TLS12" => SslProtocols.Tls12,
            "TLS13" => SslProtocols.Tls13,
            _ => SslProtocols.None,
        };
        return protocol != SslProtocols.None;
    }
}
