using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace IoTHub.Testing;

/// <summary>A certificate and its key written as PEM files.</summary>
public sealed record PemFiles(string Certificate, string Key);

/// <summary>
/// A test certificate authority in a temp folder, made with .NET's CertificateRequest (ECDSA P-256): its PEM
/// file, and server and client certificates it signs on demand, each written as a certificate and a key file.
/// A second, unrelated authority signs certificates no listener trusts. Dispose deletes the folder.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly ECDsa _authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _strangerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _authority;
    private readonly X509Certificate2 _stranger;
    private int _files;

    public TestCertificates()
    {
        Folder = Directory.CreateTempSubdirectory("iothub-certs-").FullName;
        _authority = CreateAuthority("IoTHub Test CA", _authorityKey);
        _stranger = CreateAuthority("Stranger CA", _strangerKey);
        Authority = Path.Combine(Folder, "ca.pem");
        File.WriteAllText(Authority, _authority.ExportCertificatePem());
        StrangerAuthority = Path.Combine(Folder, "stranger-ca.pem");
        File.WriteAllText(StrangerAuthority, _stranger.ExportCertificatePem());
    }

    public string Folder { get; }

    /// <summary>The authority's certificate (PEM): what clients pass as --cafile and listeners as ClientCertificateAuthority.</summary>
    public string Authority { get; }

    /// <summary>The stranger's certificate (PEM): the CA of another party, e.g. of a node that is no member of the cluster.</summary>
    public string StrangerAuthority { get; }

    /// <summary>A server certificate for localhost and 127.0.0.1 (and <paramref name="hostNames"/>), valid from an hour ago for a day unless told.</summary>
    public PemFiles Server(string name, string[]? hostNames = null, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        foreach (var host in hostNames ?? [])
        {
            names.AddDnsName(host);
        }

        return Issue(name, "localhost", [ServerAuthentication], names.Build(), _authority, _authorityKey, notBefore, notAfter);
    }

    /// <summary>A cluster node's certificate, for TLS server and client authentication both, signed by the authority or by the stranger.</summary>
    public PemFiles Node(string name, bool trusted = true) => trusted
        ? Issue(name, name, [ServerAuthentication, ClientAuthentication], null, _authority, _authorityKey, null, null)
        : Issue(name, name, [ServerAuthentication, ClientAuthentication], null, _stranger, _strangerKey, null, null);

    /// <summary>
    /// A client certificate for the Common Name <paramref name="name"/> signed by the authority, or by the stranger no listener
    /// trusts; with <paramref name="alternativeNames"/> as DNS names, and valid from an hour ago for a day unless told.
    /// </summary>
    public PemFiles Client(string name, bool trusted = true, string[]? alternativeNames = null, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        X509Extension? names = null;
        if (alternativeNames is not null)
        {
            var builder = new SubjectAlternativeNameBuilder();
            Array.ForEach(alternativeNames, builder.AddDnsName);
            names = builder.Build();
        }

        return trusted ? Issue(name, name, [ClientAuthentication], names, _authority, _authorityKey, notBefore, notAfter)
            : Issue(name, name, [ClientAuthentication], names, _stranger, _strangerKey, notBefore, notAfter);
    }

    /// <summary>Whether <paramref name="certificate"/> (a server's, as a client sees it) chains to the authority, and only to it.</summary>
    public bool Issued(X509Certificate? certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return certificate is X509Certificate2 served && chain.Build(served);
    }

    /// <summary>
    /// Writes a certificate revocation list of the authority to <paramref name="path"/> (PEM, or DER when told), revoking
    /// the certificates of <paramref name="revoked"/>; each call has a higher CRL number.
    /// </summary>
    public void RevocationList(string path, bool pem, params PemFiles[] revoked)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var files in revoked)
        {
            using var certificate = X509CertificateLoader.LoadCertificateFromFile(files.Certificate);
            builder.AddEntry(certificate, DateTimeOffset.UtcNow.AddMinutes(-1));
        }

        var now = DateTimeOffset.UtcNow;
        var der = builder.Build(_authority.SubjectName, X509SignatureGenerator.CreateForECDsa(_authorityKey), Interlocked.Increment(ref _files), now.AddDays(1),
            HashAlgorithmName.SHA256, X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_authority, includeKeyIdentifier: false, includeIssuerAndSerial: true),
            now.AddMinutes(-1));

        // Written to a new file first and moved in place, as a deployment would: a reader never sees half a list.
        var next = path + ".new";
        if (pem)
        {
            File.WriteAllText(next, new string(PemEncoding.Write("X509 CRL", der)));
        }
        else
        {
            File.WriteAllBytes(next, der);
        }

        File.Move(next, path, overwrite: true);
    }

    public void Dispose()
    {
        _authority.Dispose();
        _stranger.Dispose();
        _authorityKey.Dispose();
        _strangerKey.Dispose();
        Directory.Delete(Folder, recursive: true);
    }

    private static X509Certificate2 CreateAuthority(string name, ECDsa key)
    {
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddDays(-3), now.AddDays(3));
    }

    private PemFiles Issue(string name, string commonName, Oid[] usages, X509Extension? alternativeNames, X509Certificate2 issuer, ECDsa issuerKey,
        DateTimeOffset? notBefore, DateTimeOffset? notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([.. usages], false));
        if (alternativeNames is not null)
        {
            request.CertificateExtensions.Add(alternativeNames);
        }

        var now = DateTimeOffset.UtcNow;
        var serial = BitConverter.GetBytes(Interlocked.Increment(ref _files) + 1000L);
        using var certificate = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey),
            notBefore ?? now.AddHours(-1), notAfter ?? now.AddDays(1), serial);
        var files = new PemFiles(Path.Combine(Folder, name + ".pem"), Path.Combine(Folder, name + ".key"));
        File.WriteAllText(files.Certificate, certificate.ExportCertificatePem());
        File.WriteAllText(files.Key, key.ExportPkcs8PrivateKeyPem());
        return files;
    }
}
