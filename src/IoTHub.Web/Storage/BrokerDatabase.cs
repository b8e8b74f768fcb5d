using IoTHub.Data;
using IoTHub.Data.Stores;
using IoTHub.Web.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Storage;

/// <summary>
/// The configured database for the work beside the broker's store (the admin stores, the readiness
/// check), on connections of its own; none for the memory and file providers.
/// </summary>
internal sealed class BrokerDatabase(IOptions<StorageOptions> options, IHostEnvironment environment)
{
    /// <summary>Contexts on the database; null for the memory and file providers.</summary>
    public IDbContextFactory<BrokerDbContext>? Contexts { get; } = options.Value switch
    {
        { Provider: StorageProvider.Sqlite } storage => new BrokerDbContextFactory(SqliteStorage.CreateOptions(
            Path.Combine(Path.GetFullPath(storage.DataDirectory, environment.ContentRootPath), SqliteStorage.DefaultFileName))),
        { Provider: StorageProvider.Postgres } storage => new BrokerDbContextFactory(PostgresStorage.CreateOptions(storage.ConnectionString)),
        _ => null,
    };
}
