using IoTHub.Testing;
using MQTTnet;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 18's SQL query authenticator with FailurePolicy Deny, against a real PostgreSQL server and real clients (MQTTnet,
/// mosquitto_pub): each password hash allows its password and denies another (0x86, 3.1.1: 4), a user name without a row
/// goes on to the password file, a user name written as SQL is only a name, and a query that does not finish within the
/// timeout or a database that is down refuses with 0x88 Server unavailable (3.1.1: 3) while other clients connect.
/// 3.1.1 [MQTT-3.2.2-5] and 5.0 [MQTT-3.2.2-7]: after a refusing CONNACK the connection is closed (the clients report it).
/// </summary>
public sealed class SqlTests(SqlDenyHost fixture) : IClassFixture<SqlDenyHost>
{
    private const string Unavailable = "the authentication backend is unavailable";

    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData("bcrypt-device", Protocol.V500)]
    [InlineData("pgcrypto-device", Protocol.V311)]
    [InlineData("pbkdf2-sha256-device", Protocol.V311)]
    [InlineData("pbkdf2-sha512-device", Protocol.V500)]
    [InlineData("sha256-prefix-device", Protocol.V500)]
    [InlineData("sha256-suffix-device", Protocol.V311)]
    [InlineData("plain-device", Protocol.V500)]
    public async Task Each_hash_allows_its_password_and_denies_another(string device, Protocol protocol)
    {
        await ConnectsAsync(device, protocol);
        await Mosquitto.PublishWithAsync(_host, protocol, "-i", $"sql-pub-{device}", "-u", device, "-P", SqlHost.Password(device), "-t", "sql/pub", "-m", "1");

        var wrong = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, protocol, $"sql-wrong-{device}", device, SqlHost.Password(device) + "x"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ResultCode);
        var none = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, protocol, $"sql-none-{device}").WithCredentials(device, (byte[]?)null));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, none.ResultCode);
        Assert.Contains(protocol == Protocol.V500 ? "received CONNACK (134)" : "received CONNACK (4)",
            await Mosquitto.RefusedPublishWithAsync(_host, protocol, "-i", $"sql-pub-wrong-{device}", "-u", device, "-P", "wrong", "-t", "t", "-m", "x"),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_user_name_without_a_row_goes_on_to_the_next_authenticator()
    {
        // alice is in no table: every query finds no row, the password file decides.
        await ConnectsAsync("alice", Protocol.V500, SqlHost.AlicePassword);
        var wrong = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V311, "sql-alice", "alice", "wrong"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ResultCode);
        var stranger = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-stranger", "stranger", "x"));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, stranger.ResultCode);

        // @clientid is bound: the Plain query finds plain-device only for client ids starting with "sql-".
        var otherClient = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "elsewhere", "plain-device", SqlHost.Password("plain-device")));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, otherClient.ResultCode);
    }

    [Theory]
    [InlineData("' OR '1'='1")]
    [InlineData("x' OR name = 'plain-device' --")]
    [InlineData("plain-device'; DELETE FROM devices; --")]
    public async Task A_user_name_written_as_SQL_is_only_a_name(string userName)
    {
        // Concatenated into the query, each would find plain-device's row (whose password is sent), or delete every row.
        var refused = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-injection", userName, SqlHost.Password("plain-device")));
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, refused.ResultCode);
        Assert.Equal(9L, await fixture.ExecuteAsync("SELECT count(*) FROM devices"));
        await ConnectsAsync("plain-device", Protocol.V311);
    }

    /// <summary>A hash of another form is the operator's error to see (logged, 0x88), not a wrong password (0x86, which bans count).</summary>
    [Fact]
    public async Task A_stored_hash_not_of_the_configured_form_is_a_failure_of_the_backend()
    {
        var refused = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-broken", SqlHost.BrokenDevice, "x"));
        Assert.Equal((MqttClientConnectResultCode.ServerUnavailable, Unavailable), (refused.ResultCode, refused.ReasonString));
        Assert.Contains(fixture.Logs.Lines, static l => l.Message.Contains("the stored password_hash is not a bcrypt hash", StringComparison.Ordinal));
        await ConnectsAsync("bcrypt-device", Protocol.V500, clientId: "sql-after-broken"); // answers again
    }

    [Fact]
    public async Task A_slow_query_times_out_with_Server_unavailable_while_other_clients_connect()
    {
        var slow = MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-slow", SqlHost.SlowDevice, SqlHost.Password(SqlHost.SlowDevice)));
        await Poll.UntilAsync(async () => await fixture.SleepingAsync() == 1, MqttNetClient.Timeout, "the slow query never started");

        // The slow query sleeps (30 s); another client is looked up and let in meanwhile, before the slow one's answer.
        await ConnectsAsync("sha256-prefix-device", Protocol.V500);
        Assert.False(slow.IsCompleted, "the slow client was answered before the other one connected");

        // The authenticator's 2 s Timeout, not Mqtt:AuthenticationTimeout (5 s), ended it; the query was cancelled on the server.
        var answer = await slow.WaitAsync(MqttNetClient.Timeout);
        Assert.Equal((MqttClientConnectResultCode.ServerUnavailable, Unavailable), (answer.ResultCode, answer.ReasonString));
        await Poll.UntilAsync(async () => await fixture.SleepingAsync() == 0, MqttNetClient.Timeout, "the slow query was not cancelled");
    }

    [Fact]
    public async Task A_database_that_is_down_refuses_with_Server_unavailable_while_the_cache_serves()
    {
        await ConnectsAsync("bcrypt-device", Protocol.V500, clientId: "sql-cached");
        await fixture.Postgres.StopAsync();
        try
        {
            var refused = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-down", "pbkdf2-sha512-device", SqlHost.Password("pbkdf2-sha512-device")));
            Assert.Equal((MqttClientConnectResultCode.ServerUnavailable, Unavailable), (refused.ResultCode, refused.ReasonString));
            Assert.Contains("received CONNACK (3)", await Mosquitto.RefusedPublishWithAsync(_host, Protocol.V311, "-i", "sql-down-pub", "-u", "alice",
                "-P", SqlHost.AlicePassword, "-t", "t", "-m", "x"), StringComparison.Ordinal);

            // A device the cache has seen still connects; the broker reports itself degraded.
            await ConnectsAsync("bcrypt-device", Protocol.V500, clientId: "sql-cached");
            Assert.Equal("Degraded", await fixture.Http.GetStringAsync("/health/ready"));
        }
        finally
        {
            await fixture.Postgres.StartAsync();
        }

        // Once the server is back the authenticator answers again (the pool replaces the connections the stop ended).
        await Poll.UntilAsync(async () => (await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-back", "pbkdf2-sha512-device",
            SqlHost.Password("pbkdf2-sha512-device")))).ResultCode == MqttClientConnectResultCode.Success, MqttNetClient.Timeout, "the database was not asked again");
        Assert.Equal("Healthy", await fixture.Http.GetStringAsync("/health/ready"));
        Assert.Contains(fixture.Logs.Lines, static l => l.EventId == 1160 && l.Message.Contains("Security:Authenticators:0 (sql postgresql://127.0.0.1:", StringComparison.Ordinal)
            && l.Message.Contains("0x88", StringComparison.Ordinal));

        // Nothing the host logged holds the connection string's password or a device's.
        Assert.DoesNotContain(fixture.Logs.Lines, static l => l.Message.Contains(SqlHost.ConnectionSecret, StringComparison.Ordinal)
            || l.Message.Contains(SqlHost.Password("pbkdf2-sha512-device"), StringComparison.Ordinal));
    }

    private async Task ConnectsAsync(string userName, Protocol protocol, string? password = null, string? clientId = null)
    {
        var answer = await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, protocol, clientId ?? $"sql-{userName}-{protocol}", userName,
            password ?? SqlHost.Password(userName)));
        Assert.Equal(MqttClientConnectResultCode.Success, answer.ResultCode);
    }
}

/// <summary>
/// The same authenticators with FailurePolicy NotMine: a query that times out, or a database that is down, passes the
/// client on, so the password file lets alice in and refuses the devices it does not know with 0x86, not 0x88.
/// </summary>
public sealed class SqlNotMineTests(SqlNotMineHost fixture) : IClassFixture<SqlNotMineHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Fact]
    public async Task A_slow_query_passes_the_client_to_the_next_authenticator()
    {
        var slow = MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-slow", SqlHost.SlowDevice, SqlHost.Password(SqlHost.SlowDevice)));
        await Poll.UntilAsync(async () => await fixture.SleepingAsync() == 1, MqttNetClient.Timeout, "the slow query never started");
        var alice = await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V311, "sql-alice", "alice", SqlHost.AlicePassword));
        Assert.Equal(MqttClientConnectResultCode.Success, alice.ResultCode);
        Assert.False(slow.IsCompleted, "the slow client was answered before the other one connected");

        // The password file does not know it: bad credentials.
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, (await slow.WaitAsync(MqttNetClient.Timeout)).ResultCode);
    }

    [Fact]
    public async Task A_database_that_is_down_passes_the_client_to_the_next_authenticator()
    {
        await fixture.Postgres.StopAsync();
        try
        {
            var alice = await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-alice-down", "alice", SqlHost.AlicePassword));
            Assert.Equal(MqttClientConnectResultCode.Success, alice.ResultCode);
            var wrong = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V311, "sql-alice-down", "alice", "wrong"));
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.ResultCode);
            var device = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-down", "plain-device", SqlHost.Password("plain-device")));
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, device.ResultCode);
        }
        finally
        {
            await fixture.Postgres.StartAsync();
        }

        // Not cached: once the database answers, it decides about the same client.
        await Poll.UntilAsync(async () => (await MqttNetClient.AnswerAsync(MqttNetClient.Options(_host, Protocol.V500, "sql-down", "plain-device",
            SqlHost.Password("plain-device")))).ResultCode == MqttClientConnectResultCode.Success, MqttNetClient.Timeout, "the database was not asked again");
    }
}
