using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace IoTHub.LoadTest;

/// <summary>
/// The certificate every broker serves over tls and wss, made once per run: a test certificate authority and an ECDSA
/// P-256 server certificate for localhost and 127.0.0.1 signed by it, as PEM files in a temp folder. The tool's
/// clients trust that authority and nothing else.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private TestCertificates(string folder, X509Certificate2 authority)
    {
        Folder = folder;
        Authority = authority;
    }

    public string Folder { get; }

    /// <summary>The server certificate (PEM), for IoTHub's <c>Certificate</c>, Mosquitto's <c>certfile</c> and the MQTTnet server.</summary>
    public string CertificatePath => Path.Combine(Folder, "server.pem");

    /// <summary>Its private key (PKCS#8 PEM).</summary>
    public string KeyPath => Path.Combine(Folder, "server.key");

    /// <summary>The authority's certificate (no key), which the clients trust.</summary>
    public X509Certificate2 Authority { get; }

    public static TestCertificates Create()
    {
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        var notAfter = notBefore.AddDays(7);
        using var authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var authorityRequest = new CertificateRequest("CN=IoTHub load test CA", authorityKey, HashAlgorithmName.SHA256);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        authorityRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(authorityRequest.PublicKey, critical: false));
        using var authority = authorityRequest.CreateSelfSigned(notBefore, notAfter);

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(ClientTransport.HostName);
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive serial number (RFC 5280 §4.1.2.2)
        using var server = request.Create(authority, notBefore, notAfter, serial);

        var folder = Directory.CreateTempSubdirectory("iothub-load-tls-").FullName;
        var certificates = new TestCertificates(folder, X509CertificateLoader.LoadCertificate(authority.RawData));
        File.WriteAllText(certificates.CertificatePath, server.ExportCertificatePem());
        File.WriteAllText(certificates.KeyPath, serverKey.ExportPkcs8PrivateKeyPem());

        // A throwaway key of a loopback test.
        BrokerProcess.LetMosquittoRead(folder, certificates.CertificatePath, certificates.KeyPath);
        return certificates;
    }

    public void Dispose()
    {
        Authority.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}
