using System.Security.Cryptography;
using System.Text;
using IoTHub.Testing;
using Npgsql;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host with a real PostgreSQL server of its own and seven authenticators, all with Timeout 2 s and the failure
/// policy of the subclass: 0 to 5, <c>Type=Sql</c> with each password hash (each query reads the rows of its
/// <c>algorithm</c> from one <c>devices</c> table; the Plain one sleeps a row's <c>delay</c> and binds @clientid, a
/// Sha256 one binds @peeraddress), then 6, a password file from the real mosquitto_passwd with alice. Each device's
/// password is <see cref="Password"/> of its name; the hashes are made here with the algorithms' own definitions
/// (.NET's PBKDF2 and SHA-256, BCrypt.Net, PostgreSQL's pgcrypto). The connection string holds <see cref="ConnectionSecret"/>
/// (the server trusts loopback, so any password does). Logs go to <see cref="Logs"/>; bans are off.
/// </summary>
public abstract class SqlHost(string failurePolicy) : IAsyncLifetime
{
    public const string AlicePassword = "alice-in-the-file";
    public const string ConnectionSecret = "connection-secret-41";

    /// <summary>A Plain device whose query sleeps 30 s.</summary>
    public const string SlowDevice = "slow-device";

    /// <summary>A device whose stored hash is not of its authenticator's form.</summary>
    public const string BrokenDevice = "broken-device";

    private readonly string _folder = Directory.CreateTempSubdirectory("iothub-interop-sql-").FullName;

    // The test's own connections: not pooled, so none outlives a stop of the server.
    private string _ownerConnection = string.Empty;

    public PostgresServer Postgres { get; } = new();

    public InteropHost Host { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public string ConnectionString { get; private set; } = string.Empty;

    public static string Password(string device) => "pw-" + device;

    public async Task InitializeAsync()
    {
        await Postgres.InitializeAsync();
        _ownerConnection = await Postgres.CreateDatabaseAsync();
        ConnectionString = new NpgsqlConnectionStringBuilder(_ownerConnection) { Pooling = true, Password = ConnectionSecret }.ToString();
        await ExecuteAsync("CREATE EXTENSION pgcrypto; " +
            "CREATE TABLE devices (name text PRIMARY KEY, algorithm text NOT NULL, password_hash text, salt text, delay float8 NOT NULL DEFAULT 0)");
        await InsertAsync("bcrypt-device", "bcrypt", BCrypt.Net.BCrypt.HashPassword(Password("bcrypt-device"), workFactor: 4), null);
        await ExecuteAsync("INSERT INTO devices (name, algorithm, password_hash) VALUES ('pgcrypto-device', 'bcrypt', crypt(@p, gen_salt('bf', 4)))",
            ("p", Password("pgcrypto-device")));

        var salt = RandomNumberGenerator.GetBytes(16);
        var derived = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(Password("pbkdf2-sha256-device")), salt, 1000, HashAlgorithmName.SHA256, 32);
        await InsertAsync("pbkdf2-sha256-device", "pbkdf2-sha256", $"$pbkdf2-sha256$1000${AdaptedBase64(salt)}${AdaptedBase64(derived)}", null);
        derived = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(Password("pbkdf2-sha512-device")), Encoding.UTF8.GetBytes("salt-512"), 1000,
            HashAlgorithmName.SHA512, 64);
        await InsertAsync("pbkdf2-sha512-device", "pbkdf2-sha512", Convert.ToHexStringLower(derived), "salt-512");
        await InsertAsync("sha256-prefix-device", "sha256-prefix", Sha256Hex("pre" + Password("sha256-prefix-device")), "pre");
        await InsertAsync("sha256-suffix-device", "sha256-suffix", Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Password("sha256-suffix-device") + "suf"))),
            "suf");
        await InsertAsync(BrokenDevice, "bcrypt", "not-a-bcrypt-hash", null);
        await InsertAsync("plain-device", "plain", Password("plain-device"), null);
        await InsertAsync(SlowDevice, "plain", Password(SlowDevice), null);
        await ExecuteAsync("UPDATE devices SET delay = 30 WHERE name = @n", ("n", SlowDevice));

        var passwords = Path.Combine(_folder, "passwords");
        PasswordFileHost.RunPasswd("-c", "-b", passwords, "alice", AlicePassword);
        Dictionary<string, string> settings = new()
        {
            ["Security:Authenticators:6:Type"] = "PasswordFile",
            ["Security:Authenticators:6:Path"] = passwords,
            ["Security:Bans:Enabled"] = "false",
            ["Logging:LogLevel:IoTHub.Broker.Security.Backends"] = "Information",
        };
        (string Hash, string Query)[] authenticators =
        [
            ("Bcrypt", Query("bcrypt")),
            ("Pbkdf2Sha256", Query("pbkdf2-sha256")),
            ("Pbkdf2Sha512", Query("pbkdf2-sha512")),
            ("Sha256", Query("sha256-prefix") + " AND @peeraddress = '127.0.0.1'"),
            ("Sha256", Query("sha256-suffix")),
            ("Plain", "SELECT d.password_hash FROM devices d, pg_sleep(d.delay) WHERE d.algorithm = 'plain' AND d.name = @username AND @clientid LIKE 'sql-%'"),
        ];
        for (var i = 0; i < authenticators.Length; i++)
        {
            var name = $"Security:Authenticators:{i}";
            settings[$"{name}:Type"] = "Sql";
            settings[$"{name}:Provider"] = "PostgreSql";
            settings[$"{name}:ConnectionString"] = ConnectionString;
            settings[$"{name}:Query"] = authenticators[i].Query;
            settings[$"{name}:PasswordHash"] = authenticators[i].Hash;
            settings[$"{name}:Timeout"] = "00:00:02";
            settings[$"{name}:FailurePolicy"] = failurePolicy;
        }

        settings["Security:Authenticators:2:Iterations"] = "1000";
        settings["Security:Authenticators:4:SaltPosition"] = "Suffix";
        Host = new InteropHost(settings, Logs);
        Http = new HttpClient { BaseAddress = new Uri($"http://{Host.HttpEndpoint}"), Timeout = MqttNetClient.Timeout };

        // The first question of each authenticator pays for JIT and a new connection: not within a test's 2 s timeout.
        var first = await MqttNetClient.AnswerAsync(MqttNetClient.Options(Host, Protocol.V500, "sql-warm-up", "alice", AlicePassword));
        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, first.ResultCode);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        Host.Dispose();
        await Postgres.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>Runs SQL on the test database as its owner.</summary>
    public async Task<object?> ExecuteAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(_ownerConnection);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return await command.ExecuteScalarAsync();
    }

    /// <summary>The queries of this database that are asleep in pg_sleep (a slow question in progress).</summary>
    public async Task<long> SleepingAsync() =>
        (long)(await ExecuteAsync("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"))!;

    private static string Query(string algorithm) => $"SELECT password_hash, salt FROM devices WHERE algorithm = '{algorithm}' AND name = @username";

    private async Task InsertAsync(string name, string algorithm, string hash, string? salt) =>
        await ExecuteAsync("INSERT INTO devices (name, algorithm, password_hash, salt) VALUES (@n, @a, @h, @s)",
            ("n", name), ("a", algorithm), ("h", hash), ("s", (object?)salt ?? DBNull.Value));

    private static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>passlib's base64: '.' for '+', no padding.</summary>
    private static string AdaptedBase64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '.');
}

public sealed class SqlDenyHost() : SqlHost("Deny");

public sealed class SqlNotMineHost() : SqlHost("NotMine");
