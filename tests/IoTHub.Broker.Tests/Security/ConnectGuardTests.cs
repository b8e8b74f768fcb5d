using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Bans;
using IoTHub.Broker.Security.Certificates;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests.Security;

/// <summary>
/// What a broker asks before its authenticators, over in-memory pipes (issue 15): a banned client is refused with
/// 0x8A Banned (3.1.1: 0x05 Not authorized, 5.0 §3.2.2.2, [MQTT-3.2.2-7]) without the authenticators being asked; a
/// listener that takes user names from client certificates accepts a certificate's identity as the user name and
/// refuses a client without one with 0x87.
/// </summary>
public sealed class ConnectGuardTests : IAsyncLifetime
{
    private static readonly IPEndPoint Attacker = new(IPAddress.Parse("192.0.2.66"), 40000);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly CountingAuthenticator _passwords = new();
    private BanList _bans = null!;
    private MqttBroker _broker = null!;

    public Task InitializeAsync()
    {
        _bans = new BanList(new BanOptions { MaxFailures = 3 }, _time, new CapturingLogger<BanList>());
        var chain = new AuthenticationChain([_passwords], allowAnonymous: false, TimeSpan.FromMinutes(1), _time);
        _broker = new MqttBroker(new BrokerOptions(), time: _time) { Authenticator = new BanGuard(_bans, new CertificateLogin(chain)) };
        _broker.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Theory]
    [InlineData(MqttProtocolVersion.V500, ReasonCode.Banned)]
    [InlineData(MqttProtocolVersion.V311, ReasonCode.NotAuthorized)]
    public async Task After_the_limit_the_right_password_is_refused_as_banned_without_asking_the_authenticators(MqttProtocolVersion version, ReasonCode banned)
    {
        // 3.1.1 clients read 0x04 and 0x05, decoded here as the 5.0 codes they map to.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ReasonCode.BadUserNameOrPassword, await ConnectAsync(version, "alice", "wrong " + i));
        }

        var asked = _passwords.Asked;
        Assert.Equal(banned, await ConnectAsync(version, "alice", CountingAuthenticator.Password));
        Assert.Equal(asked, _passwords.Asked);
        Assert.Equal(2, _bans.Active().Count);

        Assert.True(_bans.Lift(BanKind.Address, Attacker.Address.ToString()));
        Assert.True(_bans.Lift(BanKind.User, "alice"));
        Assert.Equal(ReasonCode.Success, await ConnectAsync(version, "alice", CountingAuthenticator.Password));
    }

    [Fact]
    public async Task Refused_anonymous_clients_count_and_the_ban_ends_with_its_duration()
    {
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ReasonCode.NotAuthorized, await ConnectAsync(MqttProtocolVersion.V500, null, null));
        }

        Assert.Equal(ReasonCode.Banned, await ConnectAsync(MqttProtocolVersion.V500, "alice", CountingAuthenticator.Password));
        _time.Advance(new BanOptions().Duration);
        Assert.Equal(ReasonCode.Success, await ConnectAsync(MqttProtocolVersion.V500, "alice", CountingAuthenticator.Password));
    }

    [Theory]
    [InlineData(CertificateIdentity.CommonName, "device-7")]
    [InlineData(CertificateIdentity.SubjectAlternativeName, "device-7.example.com")]
    public async Task A_certificate_identity_replaces_the_user_name_and_no_password_is_checked(CertificateIdentity identity, string expected)
    {
        using var certificate = Certificate("CN=device-7, O=Factory", names => names.AddDnsName("device-7.example.com"));
        var connection = new ConnectionInfo("tls", TransportKind.Tls, null, Attacker, certificate) { CertificateIdentity = identity };
        var asked = _passwords.Asked;

        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500, connection: connection);
        await client.ConnectAcceptedAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500, ClientId = "cert-client", UserName = "someone-else", Password = "no password"u8.ToArray(),
        });
        Assert.Equal(expected, _broker.FindSession("cert-client")!.Connection!.UserName);
        Assert.Equal(asked, _passwords.Asked);
    }

    [Fact]
    public async Task Without_a_certificate_such_a_listener_refuses_as_not_authorized_and_counts_a_failure()
    {
        var connection = new ConnectionInfo("tls", TransportKind.Tls, null, Attacker) { CertificateIdentity = CertificateIdentity.CommonName };
        Assert.Equal(ReasonCode.NotAuthorized, await ConnectAsync(MqttProtocolVersion.V500, "alice", CountingAuthenticator.Password, connection));
        Assert.Equal(ReasonCode.NotAuthorized, await ConnectAsync(MqttProtocolVersion.V311, "alice", CountingAuthenticator.Password, connection));
        Assert.Equal(0, _passwords.Asked);

        // A certificate without a Common Name gives no identity either.
        using var unnamed = Certificate("O=Factory", null);
        Assert.Equal(ReasonCode.NotAuthorized, await ConnectAsync(MqttProtocolVersion.V500, "alice", null, connection with { ClientCertificate = unnamed }));
        Assert.Equal(ReasonCode.Banned, await ConnectAsync(MqttProtocolVersion.V500, "alice", CountingAuthenticator.Password));
    }

    /// <summary>
    /// A listener's own AllowAnonymous with the guard: on a certificate listener it lets a client without a certificate in
    /// (the certificate is the credential there), and where it refuses anonymous clients, each refusal counts towards a ban.
    /// </summary>
    [Fact]
    public async Task A_listeners_AllowAnonymous_admits_clients_without_a_certificate_and_its_refusals_count_towards_a_ban()
    {
        var certificates = new ConnectionInfo("tls", TransportKind.Tls, null, Attacker) { CertificateIdentity = CertificateIdentity.CommonName, AllowAnonymous = true };
        await using (var client = PipeClient.Open(_broker, MqttProtocolVersion.V500, connection: certificates))
        {
            await client.ConnectAcceptedAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "no-certificate", UserName = "alice" });
            Assert.Null(_broker.FindSession("no-certificate")!.Connection!.UserName);
        }

        var closed = new ConnectionInfo("tcp", TransportKind.Tcp, null, Attacker) { AllowAnonymous = false };
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ReasonCode.NotAuthorized, await ConnectAsync(MqttProtocolVersion.V500, null, null, closed));
        }

        Assert.Equal(ReasonCode.Banned, await ConnectAsync(MqttProtocolVersion.V500, null, null, closed with { AllowAnonymous = true }));
    }

    [Fact]
    public void The_subject_alternative_name_is_the_first_dns_name_email_or_uri_in_the_certificates_order()
    {
        using var ipFirst = Certificate("CN=x", names =>
        {
            names.AddIpAddress(IPAddress.Loopback);
            names.AddEmailAddress("sensor@example.com");
            names.AddDnsName("sensor.example.com");
        });
        using var uriOnly = Certificate("CN=x", names => names.AddUri(new Uri("spiffe://example.com/sensor")));
        using var ipOnly = Certificate("CN=x", names => names.AddIpAddress(IPAddress.Loopback));

        Assert.Equal("sensor@example.com", CertificateIdentities.Read(ipFirst, CertificateIdentity.SubjectAlternativeName));
        Assert.Equal("spiffe://example.com/sensor", CertificateIdentities.Read(uriOnly, CertificateIdentity.SubjectAlternativeName));
        Assert.Null(CertificateIdentities.Read(ipOnly, CertificateIdentity.SubjectAlternativeName));
        Assert.Null(CertificateIdentities.Read(Certificate("CN=x", null), CertificateIdentity.SubjectAlternativeName));
        Assert.Null(CertificateIdentities.Read(null, CertificateIdentity.CommonName));
    }

    private async Task<ReasonCode> ConnectAsync(MqttProtocolVersion version, string? userName, string? password, ConnectionInfo? connection = null)
    {
        await using var client = PipeClient.Open(_broker, version, connection: connection ?? new ConnectionInfo("tcp", TransportKind.Tcp, null, Attacker));
        var connAck = await client.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = "guarded",
            UserName = userName,
            Password = password is null ? null : Encoding.UTF8.GetBytes(password),
        });
        return connAck.ReasonCode;
    }

    private static X509Certificate2 Certificate(string subject, Action<SubjectAlternativeNameBuilder>? alternativeNames)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        if (alternativeNames is not null)
        {
            var names = new SubjectAlternativeNameBuilder();
            alternativeNames(names);
            request.CertificateExtensions.Add(names.Build());
        }

        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1));
    }

    /// <summary>One user, alice with <see cref="Password"/>; counts how often it is asked.</summary>
    private sealed class CountingAuthenticator : IAuthenticator
    {
        public const string Password = "alice-secret";
        private int _asked;

        public string Method => "test";

        public int Asked => Volatile.Read(ref _asked);

        public ValueTask<AuthenticationAnswer> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _asked);
            return ValueTask.FromResult<AuthenticationAnswer>(request.UserName != "alice" ? AuthenticationResult.NotMine
                : request.Password is { } given && Encoding.UTF8.GetString(given) == Password ? AuthenticationResult.Allow : AuthenticationResult.Deny);
        }
    }
}
