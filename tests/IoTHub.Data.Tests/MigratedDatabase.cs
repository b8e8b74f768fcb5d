using IoTHub.Data.Stores;
using IoTHub.Testing;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Tests;

/// <summary>
/// A migrated database for one test class: an SQLite file in a temp folder (deleted at the end), or a database of its own
/// on the tests' PostgreSQL server. <see cref="Contexts"/> opens the same data at every call.
/// </summary>
public sealed class MigratedDatabase : IDisposable
{
    private readonly TempDirectory? _folder;
    private readonly DbContextOptions<BrokerDbContext> _options;

    private MigratedDatabase(TempDirectory? folder, DbContextOptions<BrokerDbContext> options) => (_folder, _options) = (folder, options);

    public static async Task<MigratedDatabase> SqliteAsync()
    {
        var folder = new TempDirectory();
        var options = SqliteStorage.CreateOptions(Path.Combine(folder.Path, SqliteStorage.DefaultFileName));
        await using (var context = new BrokerDbContext(options))
        {
            await context.Database.MigrateAsync();
        }

        return new MigratedDatabase(folder, options);
    }

    public static async Task<MigratedDatabase> PostgresAsync(PostgresServer server)
    {
        var connectionString = await server.CreateDatabaseAsync();
        await PostgresStorage.MigrateAsync(connectionString);
        return new MigratedDatabase(null, PostgresStorage.CreateOptions(connectionString));
    }

    public IDbContextFactory<BrokerDbContext> Contexts() => new BrokerDbContextFactory(_options);

    public void Dispose() => _folder?.Dispose();
}
