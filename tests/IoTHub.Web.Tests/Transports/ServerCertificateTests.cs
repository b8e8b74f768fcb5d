using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IoTHub.Web.Transports.Tls;

namespace IoTHub.Web.Tests.Transports;

/// <summary>
/// A listener's server certificate files (docs/transports.md): PKCS#12 with its chain, PEM with an encrypted key, the host
/// names served (alternative names, else the common name; a wildcard covering one label), and the files refused with the reason.
/// </summary>
public sealed class ServerCertificateTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private readonly TempDirectory _folder = new();

    [Fact]
    public void A_pkcs12_file_gives_the_certificate_with_its_key_and_the_others_as_its_chain()
    {
        using var authority = Create("CN=Chain CA", null, Now.AddHours(-1), Now.AddDays(1));
        using var server = Create("CN=server", ["mqtt.example.com"], Now.AddHours(-1), Now.AddDays(1));
        var file = Path.Combine(_folder.Path, "server.pfx");
        File.WriteAllBytes(file, new X509Certificate2Collection { X509CertificateLoader.LoadCertificate(authority.RawData), server }
            .Export(X509ContentType.Pkcs12, "secret")!);

        var loaded = ServerCertificate.Load(new CertificateFiles(file, null, "secret"), Now);

        Assert.Equal(server.Thumbprint, loaded.Certificate.Thumbprint);
        Assert.True(loaded.Certificate.HasPrivateKey);
        Assert.Equal([authority.Thumbprint], loaded.Intermediates.Select(static c => c.Thumbprint));
        Assert.Equal(["mqtt.example.com"], loaded.HostNames);
    }

    [Fact]
    public void A_pkcs12_file_without_a_private_key_is_refused()
    {
        using var server = Create("CN=server", ["mqtt.example.com"], Now.AddHours(-1), Now.AddDays(1));
        var file = Path.Combine(_folder.Path, "public.pfx");
        File.WriteAllBytes(file, new X509Certificate2Collection { X509CertificateLoader.LoadCertificate(server.RawData) }.Export(X509ContentType.Pkcs12, "secret")!);

        var problem = Assert.Throws<CertificateProblemException>(() => ServerCertificate.Load(new CertificateFiles(file, null, "secret"), Now));

        Assert.Equal($"'{file}' holds no certificate with a private key.", problem.Message);
    }

    [Fact]
    public void A_pem_key_encrypted_with_the_password_is_read()
    {
        using var server = Create("CN=server", ["mqtt.example.com"], Now.AddHours(-1), Now.AddDays(1));
        var (certificate, key) = (Path.Combine(_folder.Path, "server.pem"), Path.Combine(_folder.Path, "server.key"));
        File.WriteAllText(certificate, server.ExportCertificatePem());
        File.WriteAllText(key, server.GetECDsaPrivateKey()!.ExportEncryptedPkcs8PrivateKeyPem("secret",
            new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 100_000)));

        var loaded = ServerCertificate.Load(new CertificateFiles(certificate, key, "secret"), Now);
        var wrong = Assert.Throws<CertificateProblemException>(() => ServerCertificate.Load(new CertificateFiles(certificate, key, "wrong"), Now));

        Assert.True(loaded.Certificate.HasPrivateKey);
        Assert.StartsWith($"'{certificate}' with the key '{key}' cannot be used: ", wrong.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_not_yet_valid_is_refused_with_the_time_it_starts()
    {
        using var server = Create("CN=server", ["mqtt.example.com"], Now.AddDays(2), Now.AddDays(3));
        var files = Pkcs12(server);

        var problem = Assert.Throws<CertificateProblemException>(() => ServerCertificate.Load(files, Now));

        Assert.Equal($"'{files.Certificate}' is not valid before {server.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC.", problem.Message);
    }

    [Fact]
    public void Without_alternative_names_the_common_name_is_served()
    {
        using var server = Create("CN=broker.example.com", null, Now.AddHours(-1), Now.AddDays(1));

        var loaded = ServerCertificate.Load(Pkcs12(server), Now);

        Assert.Equal(["broker.example.com"], loaded.HostNames);
        Assert.True(loaded.Serves("BROKER.example.com"));
        Assert.False(loaded.Serves("other.example.com"));
    }

    [Theory]
    [InlineData("a.example.com", true)]
    [InlineData("A.EXAMPLE.COM", true)]
    [InlineData("a.b.example.com", false)]
    [InlineData("example.com", false)]
    [InlineData("a.example.org", false)]
    public void A_wildcard_name_serves_exactly_one_label(string serverName, bool served)
    {
        using var server = Create("CN=wildcard", ["*.example.com"], Now.AddHours(-1), Now.AddDays(1));

        var loaded = ServerCertificate.Load(Pkcs12(server), Now);

        Assert.Equal(served, loaded.Serves(serverName));
    }

    public void Dispose() => _folder.Dispose();

    private static X509Certificate2 Create(string subject, string[]? dnsNames, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var request = new CertificateRequest(subject, ECDsa.Create(ECCurve.NamedCurves.nistP256), HashAlgorithmName.SHA256);
        if (dnsNames is not null)
        {
            var names = new SubjectAlternativeNameBuilder();
            Array.ForEach(dnsNames, names.AddDnsName);
            request.CertificateExtensions.Add(names.Build());
        }

        return request.CreateSelfSigned(notBefore, notAfter);
    }

    private CertificateFiles Pkcs12(X509Certificate2 certificate)
    {
        var file = Path.Combine(_folder.Path, $"{Guid.NewGuid():N}.pfx");
        File.WriteAllBytes(file, certificate.Export(X509ContentType.Pkcs12, "secret"));
        return new CertificateFiles(file, null, "secret");
    }
}
