using System.Diagnostics;
using System.Text;
using IoTHub.Testing;
using Npgsql;

namespace IoTHub.LoadTest;

/// <summary>
/// The connect-sql scenarios' user database: a real PostgreSQL (the tests' <see cref="PostgresServer"/>, from Debian's
/// binaries in a temp folder) with docs/security.md's worked example's table, holding the one user the clients send, and
/// IoTHub's <c>Type=Sql</c> authenticator asking it with the example's query through its pooled connections. The hash
/// is bcrypt of cost <see cref="BcryptCost"/>, made by pgcrypto as the example makes it (what a real user stores), or
/// the password itself (<c>PasswordHash=Plain</c>: the backend's own cost without the hash's). The queries are counted
/// from PostgreSQL's statistics of the table, less the setup's scans.
/// </summary>
internal sealed class SqlUsers : IAuthenticationBackend
{
    /// <summary>pgcrypto's <c>gen_salt('bf', 10)</c>, as docs/security.md's example: some 70 ms of a core per check (BCrypt.Net-Next).</summary>
    public const int BcryptCost = 10;

    private const string User = "bench-sql";
    private const string Password = "bench-sql-password";

    private readonly PostgresServer _server;
    private readonly string _connectionString;
    private readonly long _setupScans;

    private SqlUsers(PostgresServer server, string connectionString, bool bcrypt, long setupScans)
    {
        (_server, _connectionString, _setupScans) = (server, connectionString, setupScans);
        Settings = new Dictionary<string, string>
        {
            ["Type"] = "Sql",
            ["Provider"] = "PostgreSql",
            // The broker's connections come from Npgsql's pool, as an operator's would (the tool's own are not pooled).
            ["ConnectionString"] = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = true }.ToString(),
            ["Query"] = "SELECT password_hash, salt FROM devices WHERE name = @username",
            ["PasswordHash"] = bcrypt ? "Bcrypt" : "Plain",
        };
    }

    public IReadOnlyDictionary<string, string> Settings { get; }

    public Credentials Credentials { get; } = new(User, Encoding.UTF8.GetBytes(Password), PasswordFile: null);

    public static async Task<SqlUsers> StartAsync(bool bcrypt)
    {
        var server = new PostgresServer();
        await server.InitializeAsync().ConfigureAwait(false);
        try
        {
            var connectionString = await server.CreateDatabaseAsync().ConfigureAwait(false);
            await using (var connection = new NpgsqlConnection(connectionString))
            {
                await connection.OpenAsync().ConfigureAwait(false);
                var hash = bcrypt ? $"crypt(@password, gen_salt('bf', {BcryptCost}))" : "@password";
#pragma warning disable CA2100 // The hash's expression is one of the two above, the password a parameter.
                await using var create = new NpgsqlCommand($"""
                    CREATE EXTENSION IF NOT EXISTS pgcrypto;
                    CREATE TABLE devices (name text PRIMARY KEY, password_hash text NOT NULL, salt text);
                    INSERT INTO devices (name, password_hash) VALUES (@name, {hash});
                    """, connection);
#pragma warning restore CA2100
                create.Parameters.AddWithValue("name", User);
                create.Parameters.AddWithValue("password", Password);
                await create.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            return new SqlUsers(server, connectionString, bcrypt, await ScansAsync(connectionString).ConfigureAwait(false));
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<string?> CountAsync() =>
        $"{await ScansAsync(_connectionString).ConfigureAwait(false) - _setupScans:N0} SQL queries in all (warm-up included)";

    public async ValueTask DisposeAsync() => await _server.DisposeAsync().ConfigureAwait(false);

    /// <summary>
    /// The table's scans so far: one per query, and the setup's own. A server process adds its counts to the statistics
    /// when it ends, so they are read once the database's other connections (the setup's, the stopped broker's) are gone.
    /// </summary>
    private static async Task<long> ScansAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var others = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", connection);
        // PostgreSQL has no event for a session's end: asked again every 20 ms, for at most 10 s.
        var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        while ((long)(await others.ExecuteScalarAsync().ConfigureAwait(false))! > 0 && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20)).ConfigureAwait(false);
        }

        await using var scans = new NpgsqlCommand("SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'devices'", connection);
        return (long)(await scans.ExecuteScalarAsync().ConfigureAwait(false))!;
    }
}
