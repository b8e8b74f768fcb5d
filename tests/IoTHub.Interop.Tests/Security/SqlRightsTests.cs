using IoTHub.Testing;
using MQTTnet;
using Npgsql;
using static IoTHub.Interop.Tests.Security.ClientRightsChecks;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host with a real PostgreSQL server of its own and two Sql authenticators (Plain passwords, <see cref="Password"/>)
/// whose queries return EMQX's <c>is_superuser</c> column: 0 as a boolean, 1 as text (rows with a <c>flag</c>).
/// What no access rule grants is refused (Security:AclDefault deny). Logs go to <see cref="Logs"/>; bans are off.
/// </summary>
public sealed class SqlRightsHost : IAsyncLifetime
{
    public const string Password = "pw";

    public PostgresServer Postgres { get; } = new();

    public InteropHost Host { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public async Task InitializeAsync()
    {
        await Postgres.InitializeAsync();
        var owner = await Postgres.CreateDatabaseAsync();
        await using (var connection = new NpgsqlConnection(owner))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "CREATE TABLE devices (name text PRIMARY KEY, password_hash text NOT NULL, is_superuser boolean, flag text); " +
                $"INSERT INTO devices VALUES ('root', '{Password}', true, NULL), ('device', '{Password}', false, NULL), ('unset', '{Password}', NULL, NULL), " +
                $"('text-root', '{Password}', NULL, 'true'), ('text-device', '{Password}', NULL, '0'), ('bad-flag', '{Password}', NULL, 'maybe')",
                connection);
            await command.ExecuteNonQueryAsync();
        }

        Dictionary<string, string> settings = new()
        {
            ["Security:AclDefault"] = "deny",
            ["Security:Bans:Enabled"] = "false",
            ["Logging:LogLevel:IoTHub.Broker.Security.Backends"] = "Information",
        };
        string[] queries =
        [
            "SELECT password_hash, is_superuser FROM devices WHERE name = @username AND flag IS NULL",
            "SELECT password_hash, flag AS is_superuser FROM devices WHERE name = @username AND flag IS NOT NULL",
        ];
        for (var i = 0; i < queries.Length; i++)
        {
            settings[$"Security:Authenticators:{i}:Type"] = "Sql";
            settings[$"Security:Authenticators:{i}:Provider"] = "PostgreSql";
            settings[$"Security:Authenticators:{i}:ConnectionString"] = owner;
            settings[$"Security:Authenticators:{i}:Query"] = queries[i];
            settings[$"Security:Authenticators:{i}:PasswordHash"] = "Plain";
        }

        Host = new InteropHost(settings, Logs);
    }

    public async Task DisposeAsync()
    {
        Host.Dispose();
        await Postgres.DisposeAsync();
    }
}

/// <summary>
/// Issue 18: a Sql authenticator's <c>is_superuser</c> column (EMQX's) makes the client a superuser for its connection,
/// against real PostgreSQL and real MQTTnet 5.0 clients under Security:AclDefault deny: a true boolean or the text
/// <c>true</c> may publish and subscribe to anything; false, <c>0</c> and NULL get what the rules give (here nothing:
/// PUBACK 0x87, 5.0 §3.4.2.1; SUBACK 0x87, 5.0 §3.9.3); a value that is no flag is a backend failure (0x88).
/// </summary>
public sealed class SqlRightsTests(SqlRightsHost fixture) : IClassFixture<SqlRightsHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData("root", true)]
    [InlineData("text-root", true)]
    [InlineData("device", false)]
    [InlineData("text-device", false)]
    [InlineData("unset", false)]
    public async Task Is_superuser_allows_everything_under_a_deny_default(string user, bool superuser)
    {
        await using var client = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "sql-rights-" + user, userName: user, password: SqlRightsHost.Password);
        Assert.Equal(superuser ? MqttClientSubscribeResultCode.GrantedQoS1 : MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(client, "#"));
        Assert.Equal(superuser ? MqttClientPublishReasonCode.Success : MqttClientPublishReasonCode.NotAuthorized, await PublishAsync(client, "plant/" + user));
        if (superuser)
        {
            Assert.Equal("plant/" + user, Assert.Single(await client.WaitForMessagesAsync(1)).Topic);
        }
    }

    [Fact]
    public async Task A_flag_of_another_value_is_a_backend_failure()
    {
        var refused = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-rights-bad", "bad-flag", SqlRightsHost.Password));
        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, refused.ResultCode);
        Assert.Contains(fixture.Logs.Lines, static line => line.EventId == 1160
            && line.Message.Contains("the query's column is_superuser is not a boolean, a number or true/false", StringComparison.Ordinal));
    }
}
