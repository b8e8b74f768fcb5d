using System.Globalization;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests.Transports;

/// <summary>
/// Two mutual TLS listeners on loopback with their files in a temp folder: "crl" checks client certificates against a
/// revocation list (which a test replaces), "ca" trusts the authority file a test replaces (at first another authority's).
/// </summary>
public sealed class RevocationHost : IDisposable
{
    private readonly TestCertificates _other = new();

    public RevocationHost()
    {
        Folder = Directory.CreateTempSubdirectory("iothub-crl-").FullName;
        Certificates = new TestCertificates();
        var server = Certificates.Server("server");
        Good = Certificates.Client("good");
        Revoked = Certificates.Client("revoked");
        RevocationList = Path.Combine(Folder, "clients.crl");
        Certificates.RevocationList(RevocationList, pem: false, Revoked);
        Authority = Path.Combine(Folder, "ca.pem");
        File.Copy(_other.Authority, Authority);
        Host = new InteropHost(new Dictionary<string, string>
        {
            ["Mqtt:Listeners:crl:Url"] = "tls://127.0.0.1:0",
            ["Mqtt:Listeners:crl:Certificate"] = server.Certificate,
            ["Mqtt:Listeners:crl:CertificateKey"] = server.Key,
            ["Mqtt:Listeners:crl:ClientCertificates"] = "Required",
            ["Mqtt:Listeners:crl:ClientCertificateAuthority"] = Certificates.Authority,
            ["Mqtt:Listeners:crl:ClientCertificateRevocationList"] = RevocationList,
            ["Mqtt:Listeners:ca:Url"] = "tls://127.0.0.1:0",
            ["Mqtt:Listeners:ca:Certificate"] = server.Certificate,
            ["Mqtt:Listeners:ca:CertificateKey"] = server.Key,
            ["Mqtt:Listeners:ca:ClientCertificates"] = "Required",
            ["Mqtt:Listeners:ca:ClientCertificateAuthority"] = Authority,
        });
    }

    public InteropHost Host { get; }

    public TestCertificates Certificates { get; }

    public string Folder { get; }

    public PemFiles Good { get; }

    public PemFiles Revoked { get; }

    /// <summary>The "crl" listener's revocation list (DER at first).</summary>
    public string RevocationList { get; }

    /// <summary>The "ca" listener's authority file (another authority's at first).</summary>
    public string Authority { get; }

    public void Dispose()
    {
        Host.Dispose();
        Certificates.Dispose();
        _other.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}

/// <summary>Revocation lists (PEM or DER) and a reloaded client authority, with mosquitto_pub --cert/--key.</summary>
public sealed class RevocationTests(RevocationHost revocation) : IClassFixture<RevocationHost>
{
    [Fact]
    public async Task A_revoked_client_certificate_is_refused_in_the_handshake_and_a_new_list_applies_to_new_handshakes()
    {
        Assert.Equal(0, await PublishAsync("crl", revocation.Good));
        Assert.NotEqual(0, await PublishAsync("crl", revocation.Revoked));

        // A new list (PEM this time) that revokes the good certificate too, and not the revoked one any more.
        revocation.Certificates.RevocationList(revocation.RevocationList, pem: true, revocation.Good);
        await Poll.UntilAsync(async () => await PublishAsync("crl", revocation.Good) != 0, ChildProcess.Timeout, "the new revocation list was not applied");
        Assert.Equal(0, await PublishAsync("crl", revocation.Revoked));
    }

    [Fact]
    public async Task A_replaced_client_authority_file_is_trusted_by_new_handshakes()
    {
        Assert.NotEqual(0, await PublishAsync("ca", revocation.Good));

        // Written anew rather than copied: a copy may keep the source's time, and both authorities were written in the same millisecond.
        File.WriteAllText(revocation.Authority + ".new", File.ReadAllText(revocation.Certificates.Authority));
        File.Move(revocation.Authority + ".new", revocation.Authority, overwrite: true);
        await Poll.UntilAsync(async () => await PublishAsync("ca", revocation.Good) == 0, ChildProcess.Timeout, "the new authority file was not applied");
    }

    private async Task<int> PublishAsync(string listener, PemFiles client)
    {
        using var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1",
            "-p", revocation.Host.Listener(listener).Port.ToString(CultureInfo.InvariantCulture), "--cafile", revocation.Certificates.Authority,
            "--cert", client.Certificate, "--key", client.Key, "-t", "crl/t", "-m", "m"]);
        return await publisher.WaitForExitAsync();
    }
}
