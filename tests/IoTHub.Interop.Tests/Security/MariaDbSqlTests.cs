using IoTHub.Testing;
using MQTTnet;
using MySqlConnector;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host with a real MariaDB server of its own and two authenticators: 0, <c>Type=Sql</c> with <c>Provider=MySql</c>,
/// bcrypt hashes from BCrypt.Net (and the documentation's), a query that sleeps a row's <c>delay</c>, Timeout 2 s and FailurePolicy Deny; 1, a
/// password file from the real mosquitto_passwd with alice.
/// </summary>
public sealed class MariaDbSqlHost : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("iothub-interop-mariadb-").FullName;
    private string _ownerConnection = string.Empty;

    public MariaDbServer MariaDb { get; } = new();

    public InteropHost Host { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public async Task InitializeAsync()
    {
        await MariaDb.InitializeAsync();
        _ownerConnection = await MariaDb.CreateDatabaseAsync();
        await ExecuteAsync("CREATE TABLE devices (name varchar(64) PRIMARY KEY, password_hash text, salt text, delay double NOT NULL DEFAULT 0)");
        foreach (var (device, delay) in new[] { ("bcrypt-device", 0), (SqlHost.SlowDevice, 30) })
        {
            await ExecuteAsync("INSERT INTO devices (name, password_hash, delay) VALUES (@n, @h, @d)",
                ("n", device), ("h", BCrypt.Net.BCrypt.HashPassword(SqlHost.Password(device), workFactor: 4)), ("d", delay));
        }

        // The worked example of docs/security.md (a bcrypt hash made by glibc's crypt).
        await ExecuteAsync("INSERT INTO devices (name, password_hash) VALUES ('field-unit-3', '$2b$10$mbvrb8YhiS9sd9A.V8JA5eiGUEaXg7GDgQJX5o1qRV13TAR/AFMsm')");

        var passwords = Path.Combine(_folder, "passwords");
        PasswordFileHost.RunPasswd("-c", "-b", passwords, "alice", SqlHost.AlicePassword);
        Host = new InteropHost(new Dictionary<string, string>
        {
            ["Security:Authenticators:0:Type"] = "Sql",
            ["Security:Authenticators:0:Provider"] = "MySql",
            ["Security:Authenticators:0:ConnectionString"] = new MySqlConnectionStringBuilder(_ownerConnection)
                { Pooling = true, Password = SqlHost.ConnectionSecret }.ConnectionString,
            ["Security:Authenticators:0:Query"] = "SELECT password_hash, salt FROM devices WHERE name = @username AND SLEEP(delay) = 0",
            ["Security:Authenticators:0:PasswordHash"] = "Bcrypt",
            ["Security:Authenticators:0:Timeout"] = "00:00:02",
            ["Security:Authenticators:1:Type"] = "PasswordFile",
            ["Security:Authenticators:1:Path"] = passwords,
            ["Security:Bans:Enabled"] = "false",
            ["Logging:LogLevel:IoTHub.Broker.Security.Backends"] = "Information",
        }, Logs);

        // The first question pays for JIT and a new connection: not within a test's 2 s timeout.
        var first = await MqttNetClient.AnswerAsync(MqttNetClient.Options(Host, Protocol.V500, "sql-warm-up", "alice", SqlHost.AlicePassword));
        Assert.Equal(MqttClientConnectResultCode.Success, first.ResultCode);
    }

    public async Task DisposeAsync()
    {
        Host.Dispose();
        await MariaDb.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    public async Task<object?> ExecuteAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new MySqlConnection(_ownerConnection);
        await connection.OpenAsync();
        await using var command = new MySqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return await command.ExecuteScalarAsync();
    }

    /// <summary>The queries asleep in SLEEP() (a slow question in progress).</summary>
    public async Task<long> SleepingAsync() =>
        Convert.ToInt64(await ExecuteAsync("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = 'User sleep'"), System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// Issue 18's SQL query authenticator against MariaDB (MySqlConnector), with real clients: bcrypt allows and denies
/// (0x86, 3.1.1: 4), a user name without a row goes on to the password file, SQL in a user name is only a name, and a
/// slow query or a stopped server refuses with 0x88 (3.1.1: 3) while other clients connect. 3.1.1 [MQTT-3.2.2-5] and
/// 5.0 [MQTT-3.2.2-7]: after a refusing CONNACK the connection is closed.
/// </summary>
public sealed class MariaDbSqlTests(MariaDbSqlHost fixture) : IClassFixture<MariaDbSqlHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Bcrypt_allows_its_password_and_denies_another(Protocol protocol)
    {
        await ConnectsAsync("bcrypt-device", protocol);
        await Mosquitto.PublishWithAsync(_host, protocol, "-i", $"sql-pub-{protocol}", "-u", "bcrypt-device", "-P", SqlHost.Password("bcrypt-device"), "-t", "sql/pub", "-m", "1");
        var wrong = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, protocol, $"sql-wrong-{protocol}", "bcrypt-device", "wrong"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ResultCode);
    }

    [Fact]
    public async Task The_worked_example_of_the_documentation_connects() =>
        await Mosquitto.PublishWithAsync(_host, Protocol.V311, "-i", "sql-doc", "-u", "field-unit-3", "-P", "s3cret", "-t", "sensors/t", "-m", "21.5");

    [Theory]
    [InlineData("alice", SqlHost.AlicePassword, MqttClientConnectResultCode.Success)]
    [InlineData("alice", "wrong", MqttClientConnectResultCode.BadUserNameOrPassword)]
    [InlineData("' OR '1'='1", "x", MqttClientConnectResultCode.BadUserNameOrPassword)]
    [InlineData("x' OR name = 'bcrypt-device' -- ", "pw-bcrypt-device", MqttClientConnectResultCode.BadUserNameOrPassword)]
    [InlineData("bcrypt-device'; DELETE FROM devices; -- ", "pw-bcrypt-device", MqttClientConnectResultCode.BadUserNameOrPassword)]
    public async Task A_user_name_without_a_row_goes_on_to_the_next_authenticator_and_SQL_in_it_is_only_a_name(string userName, string password,
        MqttClientConnectResultCode expected)
    {
        var answer = await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-no-row", userName, password));
        Assert.Equal(expected, answer.ResultCode);
        Assert.Equal(3L, Convert.ToInt64(await fixture.ExecuteAsync("SELECT COUNT(*) FROM devices"), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_slow_query_times_out_with_Server_unavailable_while_other_clients_connect()
    {
        var slow = MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-slow", SqlHost.SlowDevice, SqlHost.Password(SqlHost.SlowDevice)));
        await Poll.UntilAsync(async () => await fixture.SleepingAsync() == 1, MqttNetClient.Timeout, "the slow query never started");
        await ConnectsAsync("bcrypt-device", Protocol.V500, "sql-meanwhile");
        Assert.False(slow.IsCompleted, "the slow client was answered before the other one connected");

        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, (await slow.WaitAsync(MqttNetClient.Timeout)).ResultCode);
        await Poll.UntilAsync(async () => await fixture.SleepingAsync() == 0, MqttNetClient.Timeout, "the slow query was not cancelled");
    }

    [Fact]
    public async Task A_database_that_is_down_refuses_with_Server_unavailable()
    {
        await fixture.MariaDb.StopAsync();
        try
        {
            Assert.Contains("received CONNACK (3)", await Mosquitto.RefusedPublishWithAsync(_host, Protocol.V311, "-i", "sql-down", "-u", "bcrypt-device",
                "-P", SqlHost.Password("bcrypt-device"), "-t", "t", "-m", "x"), StringComparison.Ordinal);
        }
        finally
        {
            await fixture.MariaDb.StartAsync();
        }

        await Poll.UntilAsync(async () => (await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-down", "bcrypt-device",
            SqlHost.Password("bcrypt-device")))).ResultCode == MqttClientConnectResultCode.Success, MqttNetClient.Timeout, "the database was not asked again");
        Assert.Contains(fixture.Logs.Lines, static l => l.EventId == 1160 && l.Message.Contains("(sql mysql://127.0.0.1:", StringComparison.Ordinal));
        Assert.DoesNotContain(fixture.Logs.Lines, static l => l.Message.Contains(SqlHost.ConnectionSecret, StringComparison.Ordinal));
    }

    private async Task ConnectsAsync(string userName, Protocol protocol, string? clientId = null)
    {
        var answer = await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, protocol, clientId ?? $"sql-{userName}-{protocol}", userName, SqlHost.Password(userName)));
        Assert.Equal(MqttClientConnectResultCode.Success, answer.ResultCode);
    }
}
