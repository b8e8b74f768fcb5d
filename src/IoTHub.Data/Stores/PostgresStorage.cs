using IoTHub.Broker.Storage;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace IoTHub.Data.Stores;

/// <summary>The production store: PostgreSQL through Npgsql.</summary>
public static class PostgresStorage
{
    /// <summary>The assembly holding the PostgreSQL migrations (migrations/IoTHub.Migrations.Postgres).</summary>
    public const string MigrationsAssembly = "IoTHub.Migrations.Postgres";

    /// <summary>
    /// The most connections one broker process opens to the store when the connection string does not say (Npgsql's own default is
    /// 100): above it, a statement waits for a free connection. A burst of reads (the clients of a dead cluster node claiming their
    /// sessions on another at once) would otherwise open connection after connection until PostgreSQL refuses them all with 53300
    /// "too many clients" (its default max_connections is 100, shared by every node).
    /// </summary>
    public const int DefaultMaximumPoolSize = 20;

    public static DbContextOptions<BrokerDbContext> CreateOptions(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (builder.MaxAutoPrepare == 0)
        {
            // The writer sends the same few statements over and over: prepared once per connection,
            // the server stops parsing and planning each of them (several times the throughput).
            builder.MaxAutoPrepare = 32;
        }

        if (!SetsMaximumPoolSize(connectionString))
        {
            builder.MaxPoolSize = DefaultMaximumPoolSize;
        }

        return new DbContextOptionsBuilder<BrokerDbContext>()
            .UseNpgsql(builder.ConnectionString, npgsql => npgsql.MigrationsAssembly(MigrationsAssembly))
            .Options;
    }

    /// <summary>Whether the connection string names a maximum pool size itself (under any of the names Npgsql takes for it).</summary>
    private static bool SetsMaximumPoolSize(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        return given.ContainsKey("Maximum Pool Size") || given.ContainsKey("MaxPoolSize") || given.ContainsKey("Max Pool Size");
    }

    /// <summary>How the application name of a cluster node's database sessions ends: its name in brackets.</summary>
    public static string NodeTag(string node) => "[" + node + "]";

    /// <summary>
    /// <paramref name="connectionString"/> with an application name that ends with <paramref name="node"/>'s <see cref="NodeTag"/> (after
    /// the one it sets, or "iothub"), so that a survivor can end that node's database sessions when it dies (pg_terminate_backend).
    /// </summary>
    public static string ForNode(string connectionString, string node)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var tag = NodeTag(node);
        if (builder.ApplicationName is not { } name || !name.EndsWith(tag, StringComparison.Ordinal))
        {
            builder.ApplicationName = (string.IsNullOrEmpty(builder.ApplicationName) ? "iothub" : builder.ApplicationName) + " " + tag;
        }

        return builder.ConnectionString;
    }

    /// <summary>The longest application name PostgreSQL keeps (NAMEDATALEN - 1 bytes); a longer one is cut, and its node's tag with it.</summary>
    public const int MaximumApplicationName = 63;

    /// <summary>Any number the broker's processes agree on: the PostgreSQL advisory lock they take around migrations.</summary>
    private const long MigrationLock = 0x496F544875624D69; // "IoTHubMi"

    /// <summary>Applies the migrations the database lacks (what `dotnet ef database update` does).</summary>
    public static async Task MigrateAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var context = new BrokerDbContext(CreateOptions(connectionString));
        await MigrateAsync(context, connectionString, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Migrates under a PostgreSQL advisory lock: the nodes of a cluster started together (and, in one node, the store and
    /// the cluster's membership on the same database) would otherwise run the same migration at once, and all but one fail
    /// on a table that already exists. The others wait, then find nothing left to apply.
    /// </summary>
    private static async Task MigrateAsync(BrokerDbContext context, string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
        {
            take.Parameters.AddWithValue("key", MigrationLock);
            await take.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await context.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Released explicitly: a pooled connection keeps its session, and the lock with it, after it is closed.
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            release.Parameters.AddWithValue("key", MigrationLock);
            await release.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Opens the store. With <paramref name="migrate"/> false a database that lacks migrations is
    /// refused with the command that migrates it, rather than failing later on a missing table.
    /// </summary>
    public static async Task<RelationalBrokerStore> OpenAsync(string connectionString, StorageDurability durability, bool migrate,
        CancellationToken cancellationToken = default)
    {
        var options = CreateOptions(connectionString);
        var context = new BrokerDbContext(options);
        try
        {
            if (migrate)
            {
                await MigrateAsync(context, connectionString, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var pending = await context.Database.GetPendingMigrationsAsync(cancellationToken).ConfigureAwait(false);
                if (pending.Any())
                {
                    throw new InvalidOperationException(
                        $"The PostgreSQL database lacks the migrations {string.Join(", ", pending)}. Migrate it (see docs/storage.md) " +
                        "or set Storage:MigrateOnStart=true.");
                }
            }

            // on: COMMIT returns once the WAL is flushed to disk. off: it returns at once, and a crash of
            // the server may lose the last few hundred milliseconds of commits (never half of one).
            var synchronousCommit = durability == StorageDurability.Strict ? "on" : "off";
            var store = new RelationalBrokerStore(options, context, $"SET synchronous_commit = {synchronousCommit}");
            return store;
        }
        catch
        {
            await context.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
