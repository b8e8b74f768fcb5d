using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IoTHub.Web.Transports.Tls;

namespace IoTHub.Web.Tests.Transports;

/// <summary>
/// The client authority files of a tls:// listener (docs/transports.md): revocation lists signed by RSA and ECDSA
/// authorities with SHA-256, SHA-384 and SHA-512 are read and revoke what they list; what cannot be used is refused
/// with the reason.
/// </summary>
public sealed class ClientAuthorityTests : IDisposable
{
    private readonly TempDirectory _folder = new();

    [Theory]
    [InlineData("rsa", "SHA256")]
    [InlineData("rsa", "SHA384")]
    [InlineData("rsa", "SHA512")]
    [InlineData("ecdsa", "SHA384")]
    [InlineData("ecdsa", "SHA512")]
    public void A_revocation_list_signed_with_sha2_revokes_the_serial_numbers_it_lists(string keyType, string hash)
    {
        using var authority = Authority("CN=Signing CA", keyType);
        using var revoked = Issue(authority, "CN=revoked");
        using var kept = Issue(authority, "CN=kept");
        var list = RevocationList(authority, new HashAlgorithmName(hash), Generator(authority), revoked);

        var loaded = ClientAuthority.Load(Pem("ca.pem", authority), list);

        Assert.True(loaded.Revokes(Chain(authority, revoked)));
        Assert.False(loaded.Revokes(Chain(authority, kept)));
    }

    [Fact]
    public void Two_lists_of_one_authority_in_one_file_both_count()
    {
        using var authority = Authority("CN=Signing CA", "ecdsa");
        using var first = Issue(authority, "CN=first");
        using var second = Issue(authority, "CN=second");
        var lists = Path.Combine(_folder.Path, "both.crl");
        File.WriteAllText(lists, string.Concat(
            PemEncoding.Write("X509 CRL", File.ReadAllBytes(RevocationList(authority, HashAlgorithmName.SHA256, Generator(authority), first))),
            "\n",
            PemEncoding.Write("X509 CRL", File.ReadAllBytes(RevocationList(authority, HashAlgorithmName.SHA256, Generator(authority), second)))));

        var loaded = ClientAuthority.Load(Pem("ca.pem", authority), lists);

        Assert.True(loaded.Revokes(Chain(authority, first)));
        Assert.True(loaded.Revokes(Chain(authority, second)));
    }

    [Fact]
    public void A_list_signed_with_rsa_pss_is_refused_naming_its_algorithm()
    {
        using var authority = Authority("CN=Signing CA", "rsa");
        var list = RevocationList(authority, HashAlgorithmName.SHA256, X509SignatureGenerator.CreateForRSA(authority.GetRSAPrivateKey()!, RSASignaturePadding.Pss));

        var problem = Assert.Throws<CertificateProblemException>(() => ClientAuthority.Load(Pem("ca.pem", authority), list));

        Assert.Contains("its signature algorithm 1.2.840.113549.1.1.10 is not ECDSA or RSA (PKCS#1) with SHA-2.", problem.Message, StringComparison.Ordinal);
        Assert.Equal(ClientAuthority.RevocationListKey, problem.Key);
    }

    [Fact]
    public void A_list_of_an_authority_the_listener_does_not_have_is_refused()
    {
        using var trusted = Authority("CN=Trusted CA", "ecdsa");
        using var other = Authority("CN=Other CA", "ecdsa");
        var list = RevocationList(other, HashAlgorithmName.SHA256, Generator(other));

        var problem = Assert.Throws<CertificateProblemException>(() => ClientAuthority.Load(Pem("ca.pem", trusted), list));

        Assert.Contains("its issuer is none of the ClientCertificateAuthority certificates.", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_authority_file_without_a_certificate_or_missing_is_refused()
    {
        var empty = Path.Combine(_folder.Path, "empty.pem");
        File.WriteAllText(empty, "no certificate here\n");
        var missing = Path.Combine(_folder.Path, "missing.pem");

        var none = Assert.Throws<CertificateProblemException>(() => ClientAuthority.Load(empty, null));
        var unread = Assert.Throws<CertificateProblemException>(() => ClientAuthority.Load(missing, null));

        Assert.Equal($"'{empty}' holds no PEM certificate.", none.Message);
        Assert.StartsWith($"'{missing}' cannot be read: ", unread.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _folder.Dispose();

    private static X509Certificate2 Authority(string name, string keyType)
    {
        var request = keyType == "rsa"
            ? new CertificateRequest(name, RSA.Create(2048), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(name, ECDsa.Create(ECCurve.NamedCurves.nistP256), HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Issue(X509Certificate2 authority, string name)
    {
        var request = new CertificateRequest(name, ECDsa.Create(ECCurve.NamedCurves.nistP256), HashAlgorithmName.SHA256);
        return request.Create(authority.SubjectName, Generator(authority), DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1),
            RandomNumberGenerator.GetBytes(8));
    }

    private static X509SignatureGenerator Generator(X509Certificate2 authority) =>
        authority.GetRSAPrivateKey() is { } rsa
            ? X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1)
            : X509SignatureGenerator.CreateForECDsa(authority.GetECDsaPrivateKey()!);

    /// <summary>A DER revocation list of <paramref name="authority"/> revoking <paramref name="revoked"/>.</summary>
    private string RevocationList(X509Certificate2 authority, HashAlgorithmName hash, X509SignatureGenerator generator, params X509Certificate2[] revoked)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var certificate in revoked)
        {
            builder.AddEntry(certificate, DateTimeOffset.UtcNow.AddMinutes(-1));
        }

        var now = DateTimeOffset.UtcNow;
        var der = builder.Build(authority.SubjectName, generator, 1, now.AddDays(1), hash,
            X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: false, includeIssuerAndSerial: true), now.AddMinutes(-1));
        var path = Path.Combine(_folder.Path, $"{Guid.NewGuid():N}.crl");
        File.WriteAllBytes(path, der);
        return path;
    }

    private string Pem(string name, X509Certificate2 certificate)
    {
        var path = Path.Combine(_folder.Path, name);
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }

    private static X509Chain Chain(X509Certificate2 authority, X509Certificate2 client)
    {
        var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(client));
        return chain;
    }
}
