using IoTHub.Broker.Storage;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace IoTHub.Data.Stores;

/// <summary>The production store: PostgreSQL through Npgsql.</summary>
public static class PostgresStorage
{
    /// <summary>The assembly holding the PostgreSQL migrations (migrations/IoTHub.Migrations.Postgres).</summary>
    public const string MigrationsAssembly = "IoTHub.Migrations.Postgres";

    public static DbContextOptions<BrokerDbContext> CreateOptions(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (builder.MaxAutoPrepare == 0)
        {
            // The writer sends the same few statements over and over: prepared once per connection,
            // the server stops parsing and planning each of them (several times the throughput).
            builder.MaxAutoPrepare = 32;
        }

        return new DbContextOptionsBuilder<BrokerDbContext>()
            .UseNpgsql(builder.ConnectionString, npgsql => npgsql.MigrationsAssembly(MigrationsAssembly))
            .Options;
    }

    /// <summary>Applies the migrations the database lacks (what `dotnet ef database update` does).</summary>
    public static async Task MigrateAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var context = new BrokerDbContext(CreateOptions(connectionString));
        await context.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens the store. With <paramref name="migrate"/> false a database that lacks migrations is
    /// refused with the command that migrates it, rather than failing later on a missing table.
    /// </summary>
    public static async Task<RelationalBrokerStore> OpenAsync(string connectionString, StorageDurability durability, bool migrate,
        CancellationToken cancellationToken = default)
    {
        var context = new BrokerDbContext(CreateOptions(connectionString));
        try
        {
            if (migrate)
            {
                await context.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
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
            var store = new RelationalBrokerStore(context, $"SET synchronous_commit = {synchronousCommit}");
            return store;
        }
        catch
        {
            await context.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
