using System.Text;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;
using IoTHub.Mqtt;
using IoTHub.Testing;
using IoTHub.Web.Security.Ldap;
using Xunit.Abstractions;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 18's LDAP authenticator asked directly (through <see cref="BackendAuthenticator"/>, as the chain asks it) against
/// a real OpenLDAP server: bind mode and search mode, over StartTLS and LDAPS, a server certificate of another authority
/// refused (a failure, never an allow), user names written as filters or DNs that match no one else, empty passwords
/// denied without a bind, and the user's groups as roles.
/// </summary>
public sealed class LdapBackendTests(LdapDirectory directory, ITestOutputHelper output) : IClassFixture<LdapDirectory>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly LdapServer _server = directory.Server;

    public static TheoryData<bool> Transports => [true, false];

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Bind_mode_allows_the_right_password_and_denies_a_wrong_one_or_an_unknown_user(bool ldaps)
    {
        var options = BindMode(ldaps);
        Assert.Equal(AuthenticationResult.Allow, (await AskAsync(options, "sensor-1", LdapDirectory.Password("sensor-1"))).Result);
        Assert.Equal(AuthenticationResult.Deny, (await AskAsync(options, "sensor-1", "wrong")).Result);

        // The server answers an unknown DN as a wrong password (49): bind mode cannot tell them apart.
        Assert.Equal(AuthenticationResult.Deny, (await AskAsync(options, "nobody", "x")).Result);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Search_mode_finds_the_user_binds_as_it_and_reads_its_groups_as_roles(bool ldaps)
    {
        var options = SearchMode(ldaps) with { GroupBaseDn = LdapDirectory.Groups, SuperuserGroup = "admins" };
        var sensor = await AskAsync(options, "sensor-1", LdapDirectory.Password("sensor-1"));
        Assert.Equal(AuthenticationResult.Allow, sensor.Result);
        Assert.Equal(["technicians"], sensor.Rights!.Roles);
        Assert.False(sensor.Rights.Superuser);

        var loner = await AskAsync(options, "sensor-2", LdapDirectory.Password("sensor-2"));
        Assert.Equal((AuthenticationResult.Allow, 0, false), (loner.Result, loner.Rights!.Roles.Count, loner.Rights.Superuser));
        var root = await AskAsync(options, "root-device", LdapDirectory.Password("root-device"));
        Assert.Equal((AuthenticationResult.Allow, "admins", true), (root.Result, Assert.Single(root.Rights!.Roles), root.Rights.Superuser));

        Assert.Equal(AuthenticationResult.Deny, (await AskAsync(options, "sensor-1", "wrong")).Result);
        Assert.Equal(AuthenticationResult.NotMine, (await AskAsync(options, "nobody", "x")).Result);
    }

    [Fact]
    public async Task Groups_in_bind_mode_are_read_as_the_user()
    {
        var answer = await AskAsync(BindMode(ldaps: true) with { GroupBaseDn = LdapDirectory.Groups }, "field-unit-3", "s3cret");
        Assert.Equal((AuthenticationResult.Allow, "operators"), (answer.Result, Assert.Single(answer.Rights!.Roles)));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_server_certificate_of_another_authority_is_a_failure_never_an_allow(bool ldaps)
    {
        using var stranger = new TestCertificates();
        foreach (var options in new[] { BindMode(ldaps), SearchMode(ldaps) })
        {
            var answer = await AskAsync(options, "sensor-1", LdapDirectory.Password("sensor-1"), stranger.Authority);
            Assert.Equal(AuthenticationResult.Unavailable, answer.Result);
        }
    }

    [Fact]
    public async Task Plain_LDAP_works_when_allowed()
    {
        var options = BindMode(ldaps: false) with { StartTls = false, AllowPlaintext = true };
        Assert.Equal(AuthenticationResult.Allow, (await AskAsync(options, "sensor-1", LdapDirectory.Password("sensor-1"), caFile: null)).Result);
    }

    [Theory]
    [InlineData("*)(uid=*")]
    [InlineData("*")]
    [InlineData("sensor-1)(|(uid=*")]
    [InlineData("sensor-*")]
    [InlineData("sensor-1\\")]
    public async Task A_user_name_written_as_a_filter_matches_no_one_else(string userName)
    {
        // Concatenated into the filter, each would find sensor-1 (and others), whose password is sent.
        Assert.Equal(AuthenticationResult.NotMine, (await AskAsync(SearchMode(ldaps: false), userName, LdapDirectory.Password("sensor-1"))).Result);
    }

    [Theory]
    [InlineData("sensor-1,ou=devices")]
    [InlineData("x,uid=sensor-1")]
    [InlineData("sensor-1+cn=sensor-1")]
    [InlineData("sensor-1\\,ou=devices")]
    public async Task A_user_name_written_as_a_DN_binds_as_no_one_else(string userName)
    {
        Assert.Equal(AuthenticationResult.Deny, (await AskAsync(BindMode(ldaps: true), userName, LdapDirectory.Password("sensor-1"))).Result);
    }

    [Fact]
    public void User_names_are_escaped_per_RFC_4515_in_filters_and_RFC_4514_in_DNs()
    {
        Assert.Equal(@"\2a\29\28uid=\2a\5c\00", LdapOptions.EscapeFilterValue("*)(uid=*\\\0"));
        Assert.Equal(@"\ a\,b\+c\;d\<e\>f\""g\\h\=i\00 j\ ", LdapOptions.EscapeDnValue(" a,b+c;d<e>f\"g\\h=i\0 j "));
        Assert.Equal(@"\#x#", LdapOptions.EscapeDnValue("#x#"));
    }

    [Fact]
    public async Task An_empty_or_missing_password_is_denied_and_never_bound()
    {
        // Many servers take a simple bind with a DN and no password as an unauthenticated bind and answer success.
        foreach (var options in new[] { BindMode(ldaps: true), SearchMode(ldaps: true) })
        {
            Assert.Equal(AuthenticationResult.Deny, (await AskAsync(options, "sensor-1", string.Empty)).Result);
            Assert.Equal(AuthenticationResult.Deny, (await AskAsync(options, "sensor-1", null)).Result);
        }

        // A client without a user name is for another authenticator.
        Assert.Equal(AuthenticationResult.NotMine, (await AskAsync(SearchMode(ldaps: true), null, "x")).Result);
    }

    /// <summary>
    /// A server that stops answering on an open connection (stopped with SIGSTOP): the bind gives up at the backend's own
    /// timeout (an error the worker recovers from), not only at the authenticator's, which would leave the worker waiting.
    /// </summary>
    [Fact]
    public async Task A_bind_on_an_open_connection_to_a_server_that_stopped_answering_gives_up_at_the_timeout()
    {
        var patience = TimeSpan.FromSeconds(20);
        using var authenticator = new BackendAuthenticator(new LdapBackend(BindMode(ldaps: true) with { Connections = 1 }, _server.Certificates.Authority,
            TimeSpan.FromSeconds(1)), "Security:Authenticators:0", patience, BackendFailurePolicy.Deny);
        Assert.Equal(AuthenticationResult.Allow, (await authenticator.AuthenticateAsync(Request("sensor-2", LdapDirectory.Password("sensor-2")), CancellationToken.None)).Result);
        await _server.SuspendAsync();
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Assert.Equal(AuthenticationResult.Unavailable, (await authenticator.AuthenticateAsync(Request("sensor-1", LdapDirectory.Password("sensor-1")), CancellationToken.None)).Result);
            Assert.True(clock.Elapsed < patience / 2, $"answered after {clock.Elapsed}");
            Assert.Equal((1, 0), (authenticator.Errors, authenticator.Timeouts));
        }
        finally
        {
            _server.Resume();
        }

        Assert.Equal(AuthenticationResult.Allow, (await authenticator.AuthenticateAsync(Request("sensor-1", LdapDirectory.Password("sensor-1")), CancellationToken.None)).Result);
    }

    private LdapOptions BindMode(bool ldaps) =>
        new(new Uri(ldaps ? _server.SecureUrl : _server.Url), StartTls: !ldaps, AllowPlaintext: false, CaFile: null,
            UserDnTemplate: $"uid={LdapOptions.UserNamePlaceholder},{LdapDirectory.Devices}", BindDn: null, BindPassword: null, BaseDn: null,
            LdapOptions.DefaultUserFilter, GroupBaseDn: null, LdapOptions.DefaultGroupFilter, LdapOptions.DefaultGroupNameAttribute, SuperuserGroup: null,
            Connections: 2);

    private LdapOptions SearchMode(bool ldaps) =>
        BindMode(ldaps) with { UserDnTemplate = null, BindDn = LdapDirectory.BindDn, BindPassword = LdapDirectory.BindPassword, BaseDn = LdapDirectory.Devices };

    /// <param name="caFile">The authority the backend trusts: the server's unless told.</param>
    private async Task<AuthenticationAnswer> AskAsync(LdapOptions options, string? userName, string? password, string? caFile = "")
    {
        using var authenticator = new BackendAuthenticator(new LdapBackend(options, caFile == string.Empty ? _server.Certificates.Authority : caFile, Timeout),
            "Security:Authenticators:0", Timeout, BackendFailurePolicy.Deny);
        var answer = await authenticator.AuthenticateAsync(Request(userName, password), CancellationToken.None);
        if (answer.Result == AuthenticationResult.Unavailable)
        {
            // Expected by some tests; when it is not, the failure's output says why the backend failed.
            output.WriteLine($"{userName}: {authenticator.Problem}");
        }

        return answer;
    }

    private static ConnectRequest Request(string? userName, string? password) =>
        new("ldap-test", userName, password is null ? null : Encoding.UTF8.GetBytes(password), MqttProtocolVersion.V500,
            new ConnectionInfo("tcp://127.0.0.1:1883", TransportKind.Tcp, null, null));
}
