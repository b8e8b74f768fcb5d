using IoTHub.Broker.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Stores;

/// <summary>The embedded store: one SQLite file in WAL mode, migrated on open.</summary>
public static class SqliteStorage
{
    /// <summary>The assembly holding the SQLite migrations (migrations/IoTHub.Migrations.Sqlite).</summary>
    public const string MigrationsAssembly = "IoTHub.Migrations.Sqlite";

    public const string DefaultFileName = "iothub.db";

    public static DbContextOptions<BrokerDbContext> CreateOptions(string databasePath)
    {
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            // The store keeps its one connection open; no pool holds the file after it is disposed.
            Pooling = false,
            ForeignKeys = true,
        }.ToString();
        return new DbContextOptionsBuilder<BrokerDbContext>()
            .UseSqlite(connectionString, sqlite => sqlite.MigrationsAssembly(MigrationsAssembly))
            .Options;
    }

    /// <summary>Opens the database file (created when missing) and applies the migrations it lacks.</summary>
    public static async Task<RelationalBrokerStore> OpenAsync(string databasePath, StorageDurability durability, CancellationToken cancellationToken = default)
    {
        var options = CreateOptions(databasePath);
        var context = new BrokerDbContext(options);
        try
        {
            await context.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
            // WAL: readers never block the writer. FULL syncs the WAL on every commit (power-safe);
            // NORMAL syncs at checkpoints only (safe against a crashed process, not a lost machine).
            var synchronous = durability == StorageDurability.Strict ? "FULL" : "NORMAL";
            var store = new RelationalBrokerStore(options, context, $"PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 10000;");
            return store;
        }
        catch
        {
            await context.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
