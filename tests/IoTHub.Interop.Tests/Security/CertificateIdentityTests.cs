using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using IoTHub.Testing;
using MQTTnet;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// A host whose listener "cn" (tls, client certificates optional) takes user names from the certificate's Common Name
/// and "san" (wss, certificates required) from its first Subject Alternative Name. No authenticator, all on loopback:
/// anonymous clients are allowed on the default listener.
/// </summary>
public sealed class CertificateIdentityHost() : CertificateHost(Settings)
{
    private static Dictionary<string, string> Settings(TestCertificates certificates)
    {
        AdminClient.ChoosePassword();
        var server = certificates.Server("server");
        var settings = new Dictionary<string, string> { ["Security:Bans:Enabled"] = "false" };
        foreach (var (name, url, clients, identity) in new[]
        {
            ("cn", "tls://127.0.0.1:0", "Optional", "CommonName"),
            ("san", "wss://127.0.0.1:0/mqtt", "Required", "SubjectAlternativeName"),
        })
        {
            settings[$"Mqtt:Listeners:{name}:Url"] = url;
            settings[$"Mqtt:Listeners:{name}:Certificate"] = server.Certificate;
            settings[$"Mqtt:Listeners:{name}:CertificateKey"] = server.Key;
            settings[$"Mqtt:Listeners:{name}:ClientCertificates"] = clients;
            settings[$"Mqtt:Listeners:{name}:ClientCertificateAuthority"] = certificates.Authority;
            settings[$"Mqtt:Listeners:{name}:CertificateIdentity"] = identity;
        }

        return settings;
    }
}

/// <summary>
/// The client certificate as login and user name (issue 15, as Mosquitto's use_identity_as_username), with mosquitto_pub
/// (--cert/--key) and the MQTTnet client: the certificate's name replaces the CONNECT's user name without a password
/// check, and the clients API shows it; a client without a certificate is refused with 0x87 Not authorized (3.1.1: 5);
/// an expired certificate never gets past the handshake.
/// </summary>
public sealed class CertificateIdentityTests(CertificateIdentityHost fixture) : IClassFixture<CertificateIdentityHost>
{
    private const string Pub = "/usr/bin/mosquitto_pub";
    private const string Sub = "/usr/bin/mosquitto_sub";

    private InteropHost Host => fixture.Host;

    [Fact]
    public async Task Mosquitto_clients_go_by_the_common_name_of_their_certificate_whatever_user_name_they_send()
    {
        var device = fixture.Certificates.Client("sensor-1");
        using var subscriber = ChildProcess.Start("/usr/bin/stdbuf", ["-oL", Sub, "-d", .. Tls("cn"), "--cert", device.Certificate, "--key", device.Key,
            "-u", "somebody", "-P", "not checked", "-i", "cn-sub", "-t", "cn/#", "-C", "1", "-W", "30"]);
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);

        using var admin = await AdminClient.LoginAsync(Host);
        var clients = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/clients?user=sensor-1")).GetProperty("items").EnumerateArray()
            .Select(static c => c.GetProperty("clientId").GetString()).ToList();
        Assert.Equal(["cn-sub"], clients);

        using var publisher = ChildProcess.Start(Pub, [.. Tls("cn"), "--cert", device.Certificate, "--key", device.Key, "-i", "cn-pub", "-t", "cn/a", "-m", "hello"]);
        await publisher.WaitForSuccessAsync();
        await subscriber.WaitForSuccessAsync();
        Assert.Contains("hello", subscriber.Lines);
    }

    [Theory]
    [InlineData(Protocol.V311, "received CONNACK (5)")]
    [InlineData(Protocol.V500, "received CONNACK (135)")]
    public async Task Without_a_certificate_the_listener_refuses_as_not_authorized_though_anonymous_clients_are_allowed(Protocol protocol, string refusal)
    {
        await Mosquitto.PublishWithAsync(Host, protocol, "-i", "plain-anonymous", "-t", "cn/plain", "-m", "x");
        using var publisher = ChildProcess.Start(Pub, ["-d", .. Tls("cn"), "-V", Mosquitto.Version(protocol), "-i", "cn-none", "-t", "cn/none", "-m", "x"]);
        Assert.NotEqual(0, await publisher.WaitForExitAsync());
        Assert.Contains(refusal, string.Join('\n', publisher.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MqttNet_over_wss_goes_by_the_first_subject_alternative_name()
    {
        var device = fixture.Certificates.Client("sensor-2", alternativeNames: ["sensor-2.devices.example.com", "other.example.com"]);
        using var certificate = X509Certificate2.CreateFromPemFile(device.Certificate, device.Key);

        await using var client = await MqttNetClient.ConnectAsync(Host, Protocol.V500, "san-net", userName: "ignored", password: "ignored",
            transport: builder => Wss(builder, certificate));

        Assert.Equal("sensor-2.devices.example.com", Host.Broker.FindSession("san-net")!.Connection!.UserName);
        using var admin = await AdminClient.LoginAsync(Host);
        var listed = await admin.GetFromJsonAsync<JsonElement>("/api/v1/clients/san-net");
        Assert.Equal("sensor-2.devices.example.com", listed.GetProperty("client").GetProperty("userName").GetString());
    }

    [Fact]
    public async Task An_expired_certificate_is_refused_in_the_handshake()
    {
        var now = DateTimeOffset.UtcNow;
        var expired = fixture.Certificates.Client("expired", notBefore: now.AddDays(-2), notAfter: now.AddDays(-1));
        var valid = fixture.Certificates.Client("valid");

        using var refused = ChildProcess.Start(Pub, ["-d", .. Tls("cn"), "--cert", expired.Certificate, "--key", expired.Key, "-i", "cn-expired", "-t", "cn/x", "-m", "x"]);
        Assert.NotEqual(0, await refused.WaitForExitAsync());
        Assert.DoesNotContain("received CONNACK", string.Join('\n', refused.Lines), StringComparison.Ordinal);

        using var accepted = ChildProcess.Start(Pub, [.. Tls("cn"), "--cert", valid.Certificate, "--key", valid.Key, "-i", "cn-valid", "-t", "cn/x", "-m", "x"]);
        await accepted.WaitForSuccessAsync();
    }

    /// <summary>The connection options of mosquitto_pub/sub for a listener, trusting the test authority.</summary>
    private List<string> Tls(string listener) => ["-h", "127.0.0.1", "-p", fixture.Port(listener), "--cafile", fixture.Certificates.Authority];

    private MqttClientOptionsBuilder Wss(MqttClientOptionsBuilder builder, X509Certificate2 certificate) =>
        builder.WithWebSocketServer(ws => ws.WithUri($"wss://localhost:{fixture.Port("san")}/mqtt"))
            .WithTlsOptions(tls => tls.UseTls().WithCertificateValidationHandler(e => fixture.Certificates.Issued(e.Certificate)).WithClientCertificates([certificate]));
}
