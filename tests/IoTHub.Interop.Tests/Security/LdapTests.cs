using System.Diagnostics;
using System.Net;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host with stored roles and rules (<see cref="RolesHost"/>: <c>AclDefault=deny</c>), a real OpenLDAP server of its
/// own (<see cref="LdapDirectory"/>) and three authenticators: 0, the database users; 1, <c>Type=Ldap</c> as the worked
/// example of docs/security.md#ldap configures it (search mode over StartTLS with the service account, the server's
/// authority as CaFile, groups under ou=groups as roles, admins as superusers) with Timeout 2 s and the failure policy of
/// the subclass; 2, a password file from the real mosquitto_passwd with alice. Logs go to <see cref="Logs"/>.
/// </summary>
public abstract class LdapHost : RolesHost, IAsyncLifetime
{
    public const string AlicePassword = "alice-in-the-file";

    private readonly string _passwords;

    protected LdapHost(string failurePolicy)
        : this(new LdapDirectory(), Directory.CreateTempSubdirectory("iothub-interop-ldap-").FullName, failurePolicy, new LogCapture())
    {
    }

    private LdapHost(LdapDirectory directory, string folder, string failurePolicy, LogCapture logs)
        : base(Settings(directory, Path.Combine(folder, "passwords"), failurePolicy), logs)
    {
        (Ldap, _passwords, Logs) = (directory, Path.Combine(folder, "passwords"), logs);
    }

    public LdapDirectory Ldap { get; }

    public LogCapture Logs { get; }

    public async Task InitializeAsync()
    {
        // The chain is built at start, but the LDAP authenticator connects only when first asked: the server may start now.
        await Ldap.InitializeAsync();
        var first = await MqttNetClient.AnswerAsync(MqttNetClient.Options(Host, Protocol.V500, "ldap-warm-up", "field-unit-3", "s3cret"));
        Assert.Equal(MqttClientConnectResultCode.Success, first.ResultCode);
    }

    public async Task DisposeAsync()
    {
        await Ldap.DisposeAsync();
        Directory.Delete(Path.GetDirectoryName(_passwords)!, recursive: true);
    }

    private static Dictionary<string, string> Settings(LdapDirectory directory, string passwords, string failurePolicy)
    {
        PasswordFileHost.RunPasswd("-c", "-b", passwords, "alice", AlicePassword);
        return new()
        {
            ["Security:Authenticators:1:Type"] = "Ldap",
            ["Security:Authenticators:1:Url"] = directory.Server.Url,
            ["Security:Authenticators:1:StartTls"] = "true",
            ["Security:Authenticators:1:CaFile"] = directory.Server.Certificates.Authority,
            ["Security:Authenticators:1:BindDn"] = LdapDirectory.BindDn,
            ["Security:Authenticators:1:BindPassword"] = LdapDirectory.BindPassword,
            ["Security:Authenticators:1:BaseDn"] = LdapDirectory.Devices,
            ["Security:Authenticators:1:UserFilter"] = "(&(objectClass=inetOrgPerson)(uid={username}))",
            ["Security:Authenticators:1:GroupBaseDn"] = LdapDirectory.Groups,
            ["Security:Authenticators:1:SuperuserGroup"] = "admins",
            ["Security:Authenticators:1:Timeout"] = "00:00:02",
            ["Security:Authenticators:1:FailurePolicy"] = failurePolicy,
            ["Security:Authenticators:2:Type"] = "PasswordFile",
            ["Security:Authenticators:2:Path"] = passwords,
            ["Logging:LogLevel:IoTHub.Broker.Security.Backends"] = "Information",
        };
    }
}

public sealed class LdapDenyHost() : LdapHost("Deny");

public sealed class LdapNotMineHost() : LdapHost("NotMine");

/// <summary>
/// Issue 18's LDAP authenticator in the host with FailurePolicy Deny, against a real OpenLDAP and real clients (MQTTnet,
/// mosquitto_pub and mosquitto_sub): the documentation's example connects, a wrong password is refused (0x86, 3.1.1: 4),
/// a user the directory does not have goes on to the password file, the groups of a user are its roles for the stored
/// rules (a member of operators publishes where the role operators may, a user outside it may not; admins are
/// superusers), and a server that does not answer or is down refuses with 0x88 Server unavailable (3.1.1: 3) while other
/// clients connect. 3.1.1 [MQTT-3.2.2-5] and 5.0 [MQTT-3.2.2-7]: after a refusing CONNACK the connection is closed.
/// </summary>
public sealed class LdapTests(LdapDenyHost fixture) : IClassFixture<LdapDenyHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData(Protocol.V311, "4")]
    [InlineData(Protocol.V500, "134")]
    public async Task The_worked_example_of_the_documentation_connects_and_a_wrong_password_is_refused(Protocol protocol, string refused)
    {
        await Mosquitto.PublishWithAsync(_host, protocol, "-i", $"ldap-doc-{protocol}", "-u", "field-unit-3", "-P", "s3cret", "-t", "ldap/doc", "-m", "21.5");
        Assert.Contains($"received CONNACK ({refused})", await Mosquitto.RefusedPublishWithAsync(_host, protocol, "-i", $"ldap-wrong-{protocol}", "-u", "field-unit-3",
            "-P", "wrong", "-t", "t", "-m", "x"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_user_the_directory_does_not_have_goes_on_to_the_next_authenticator()
    {
        Assert.Equal(MqttClientConnectResultCode.Success, (await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "ldap-alice", "alice", LdapHost.AlicePassword))).ResultCode);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword,
            (await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "ldap-stranger", "*)(uid=*", LdapDirectory.Password("sensor-1")))).ResultCode);
    }

    [Fact]
    public async Task The_groups_of_a_user_are_its_roles_for_the_stored_rules()
    {
        await fixture.CreateRoleAsync("operators", "allow", "publish", "plant/#");

        // root-device is in admins, the SuperuserGroup: it may subscribe to anything.
        using var subscriber = Mosquitto.SubscribeWith(_host, Protocol.V500, "-i", "ldap-root", "-u", "root-device", "-P", LdapDirectory.Password("root-device"),
            "-q", "1", "-t", "plant/#", "-C", "1", "-W", "30");
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);

        // sensor-1 is in technicians, not operators: PUBACK 0x87, which mosquitto_pub reports as a failure; then field-unit-3, in operators.
        await using (var outsider = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "ldap-sensor-1", userName: "sensor-1", password: LdapDirectory.Password("sensor-1")))
        {
            var refused = await outsider.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("plant/valves").WithPayload("outsider")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        }

        await Mosquitto.PublishWithAsync(_host, Protocol.V500, "-i", "ldap-operator", "-u", "field-unit-3", "-P", "s3cret", "-q", "1", "-t", "plant/valves", "-m", "operator");
        await subscriber.WaitForSuccessAsync();
        Assert.Equal("operator", Assert.Single(Mosquitto.Messages(subscriber)).Payload);
    }

    [Fact]
    public async Task A_server_that_does_not_answer_times_out_with_Server_unavailable_while_other_clients_connect()
    {
        await fixture.CreateAsync("ldap-db-user", "db-password");
        var clock = Stopwatch.StartNew();
        await fixture.Ldap.Server.SuspendAsync();
        try
        {
            var slow = MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "ldap-slow", "sensor-2", LdapDirectory.Password("sensor-2")));

            // The database user is answered by the first authenticator meanwhile.
            var other = await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "ldap-meanwhile", "ldap-db-user", "db-password"));
            Assert.Equal(MqttClientConnectResultCode.Success, other.ResultCode);
            Assert.False(slow.IsCompleted, "the slow client was answered before the other one connected");

            // The authenticator's 2 s Timeout, not Mqtt:AuthenticationTimeout (5 s), ended it.
            var answer = await slow.WaitAsync(MqttNetClient.Timeout);
            Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, answer.ResultCode);
            Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.9), $"answered after {clock.Elapsed}");
            Assert.Contains(fixture.Logs.Lines, static l => l.EventId is 1160 or 1161 && l.Message.Contains("no answer within 2 s", StringComparison.Ordinal));
        }
        finally
        {
            fixture.Ldap.Server.Resume();
        }

        await Poll.UntilAsync(async () => (await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "ldap-slow", "sensor-2",
            LdapDirectory.Password("sensor-2")))).ResultCode == MqttClientConnectResultCode.Success, MqttNetClient.Timeout, "the directory was not asked again");
    }

    [Fact]
    public async Task A_server_that_is_down_refuses_with_Server_unavailable_and_one_restarted_is_asked_again()
    {
        await fixture.Ldap.Server.StopAsync();
        try
        {
            Assert.Contains("received CONNACK (3)", await Mosquitto.RefusedPublishWithAsync(_host, Protocol.V311, "-i", "ldap-down", "-u", "sensor-3",
                "-P", LdapDirectory.Password("sensor-3"), "-t", "t", "-m", "x"), StringComparison.Ordinal);
            Assert.Equal("Degraded", await HealthAsync());
        }
        finally
        {
            await fixture.Ldap.Server.StartAsync();
        }

        // The connections the stop closed are replaced: the first question after the restart is answered.
        var answer = await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "ldap-back", "sensor-3", LdapDirectory.Password("sensor-3")));
        Assert.Equal(MqttClientConnectResultCode.Success, answer.ResultCode);
        Assert.Contains(fixture.Logs.Lines, l => l.EventId == 1160 && l.Message.Contains($"(ldap {fixture.Ldap.Server.Url})", StringComparison.Ordinal));

        // Nothing the host logged holds the service account's password or a device's.
        Assert.DoesNotContain(fixture.Logs.Lines, static l => l.Message.Contains(LdapDirectory.BindPassword, StringComparison.Ordinal)
            || l.Message.Contains(LdapDirectory.Password("sensor-3"), StringComparison.Ordinal));
    }

    private async Task<string> HealthAsync()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://{_host.HttpEndpoint}"), Timeout = MqttNetClient.Timeout };
        using var response = await http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}

/// <summary>
/// The same authenticators with FailurePolicy NotMine: a directory that is down or does not answer passes the client on,
/// so the password file lets alice in and refuses the directory's users it does not know with 0x86, not 0x88.
/// </summary>
public sealed class LdapNotMineTests(LdapNotMineHost fixture) : IClassFixture<LdapNotMineHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Fact]
    public async Task A_server_that_is_down_passes_the_client_to_the_next_authenticator()
    {
        await fixture.Ldap.Server.StopAsync();
        try
        {
            await ExpectAsync("ldap-alice-down", "alice", LdapHost.AlicePassword, MqttClientConnectResultCode.Success);
            await ExpectAsync("ldap-device-down", "sensor-1", LdapDirectory.Password("sensor-1"), MqttClientConnectResultCode.BadUserNameOrPassword);
        }
        finally
        {
            await fixture.Ldap.Server.StartAsync();
        }

        // Not cached: once the directory answers, it decides about the same client.
        await ExpectAsync("ldap-device-down", "sensor-1", LdapDirectory.Password("sensor-1"), MqttClientConnectResultCode.Success);
    }

    [Fact]
    public async Task A_server_that_does_not_answer_passes_the_client_on_at_the_timeout()
    {
        await fixture.Ldap.Server.SuspendAsync();
        try
        {
            await ExpectAsync("ldap-alice-slow", "alice", LdapHost.AlicePassword, MqttClientConnectResultCode.Success);
            await ExpectAsync("ldap-device-slow", "sensor-2", LdapDirectory.Password("sensor-2"), MqttClientConnectResultCode.BadUserNameOrPassword);
        }
        finally
        {
            fixture.Ldap.Server.Resume();
        }
    }

    private async Task ExpectAsync(string clientId, string userName, string password, MqttClientConnectResultCode expected) =>
        Assert.Equal(expected, (await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, clientId, userName, password))).ResultCode);
}
