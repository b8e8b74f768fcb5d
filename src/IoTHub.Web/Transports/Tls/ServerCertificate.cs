using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace IoTHub.Web.Transports.Tls;

/// <summary>
/// Where one server certificate comes from: a PEM certificate (with its chain, e.g. certbot's fullchain.pem) and a
/// PEM key, a PEM file holding both, or a PKCS#12 (PFX) file; the password opens an encrypted PEM key or the PFX.
/// </summary>
internal sealed record CertificateFiles(string Certificate, string? Key, string? Password)
{
    /// <summary>When and how big the files were: a change of either means they were replaced.</summary>
    public (FileStamp, FileStamp) Stamp() => (FileStamp.Of(Certificate), FileStamp.Of(Key));
}

/// <summary>A problem with certificate files that an operator must fix, worded for the start-up error list and the log.</summary>
internal sealed class CertificateProblemException(string message) : Exception(message)
{
    /// <summary>The listener key of the file at fault, when it is not the one being read.</summary>
    public string? Key { get; init; }
}

/// <summary>A server certificate with its private key, loaded from its files, with the intermediates to send and the host names it serves.</summary>
internal sealed class ServerCertificate
{
    private ServerCertificate(CertificateFiles files, (FileStamp, FileStamp) stamp, X509Certificate2 certificate, X509Certificate2Collection intermediates)
    {
        Files = files;
        Stamp = stamp;
        Certificate = certificate;
        Intermediates = intermediates;
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension alternativeNames)
            {
                names.AddRange(alternativeNames.EnumerateDnsNames());
            }
        }

        if (names.Count == 0 && certificate.GetNameInfo(X509NameType.DnsName, forIssuer: false) is { Length: > 0 } commonName)
        {
            names.Add(commonName);
        }

        HostNames = [.. names];
    }

    public CertificateFiles Files { get; }

    public (FileStamp, FileStamp) Stamp { get; }

    public X509Certificate2 Certificate { get; }

    public X509Certificate2Collection Intermediates { get; }

    /// <summary>The DNS names of the certificate (subject alternative names, else the common name), for SNI.</summary>
    public IReadOnlyList<string> HostNames { get; }

    /// <summary>Whether the certificate covers <paramref name="serverName"/>, a "*.example.com" name covering one label.</summary>
    public bool Serves(string serverName)
    {
        foreach (var name in HostNames)
        {
            if (name.StartsWith("*.", StringComparison.Ordinal)
                ? serverName.EndsWith(name[1..], StringComparison.OrdinalIgnoreCase) && serverName.IndexOf('.', StringComparison.Ordinal) == serverName.Length - name.Length + 1
                : serverName.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Loads the files; a missing file, a certificate out of its validity period or a key that does not match throws a <see cref="CertificateProblemException"/>.</summary>
    public static ServerCertificate Load(CertificateFiles files, DateTimeOffset now)
    {
        var stamp = files.Stamp();
        RequireFile(files.Certificate);
        if (files.Key is not null)
        {
            RequireFile(files.Key);
        }

        X509Certificate2 certificate;
        X509Certificate2Collection intermediates;
        try
        {
            (certificate, intermediates) = IsPem(files.Certificate) ? LoadPem(files) : LoadPkcs12(files);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new CertificateProblemException($"'{files.Certificate}'{(files.Key is null ? "" : $" with the key '{files.Key}'")} cannot be used: {e.Message}");
        }

        if (certificate.NotAfter.ToUniversalTime() < now.UtcDateTime)
        {
            throw new CertificateProblemException($"'{files.Certificate}' expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC.");
        }

        if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime)
        {
            throw new CertificateProblemException($"'{files.Certificate}' is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC.");
        }

        return new ServerCertificate(files, stamp, certificate, intermediates);
    }

    private static void RequireFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new CertificateProblemException($"'{path}' does not exist.");
        }
    }

    private static bool IsPem(string path)
    {
        Span<byte> start = stackalloc byte[64];
        using var file = File.OpenRead(path);
        var read = file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        return Encoding.ASCII.GetString(start[..read]).Contains("-----BEGIN", StringComparison.Ordinal);
    }

    /// <summary>The first certificate of the file with the key (from the key file, or the same file); the others are its chain.</summary>
    private static (X509Certificate2, X509Certificate2Collection) LoadPem(CertificateFiles files)
    {
        var certificate = files.Password is { } password
            ? X509Certificate2.CreateFromEncryptedPemFile(files.Certificate, password, files.Key)
            : X509Certificate2.CreateFromPemFile(files.Certificate, files.Key);
        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(files.Certificate);
        all.RemoveAt(0);
        return (certificate, all);
    }

    /// <summary>The certificate with a private key; the others in the file are its chain.</summary>
    private static (X509Certificate2, X509Certificate2Collection) LoadPkcs12(CertificateFiles files)
    {
        var all = X509CertificateLoader.LoadPkcs12CollectionFromFile(files.Certificate, files.Password);
        var certificate = all.FirstOrDefault(static c => c.HasPrivateKey)
            ?? throw new CertificateProblemException($"'{files.Certificate}' holds no certificate with a private key.");
        all.Remove(certificate);
        return (certificate, all);
    }
}
