using IoTHub.Data;
using IoTHub.Data.Stores;
using IoTHub.Web.Configuration;

namespace IoTHub.Web.Storage;

internal static partial class BrokerStorage
{
    /// <summary>
    /// Options for a context on the configured database (for admin accounts and the readiness
    /// check, beside the store's own connection); null for the memory and file providers.
    /// </summary>
    public static Microsoft.EntityFrameworkCore.DbContextOptions<BrokerDbContext>? RelationalContextOptions(StorageOptions storage, IHostEnvironment environment) =>
        storage.Provider switch
        {
            StorageProvider.Sqlite => SqliteStorage.CreateOptions(
                Path.Combine(Path.GetFullPath(storage.DataDirectory, environment.ContentRootPath), SqliteStorage.DefaultFileName)),
            StorageProvider.Postgres => PostgresStorage.CreateOptions(storage.ConnectionString),
            _ => null,
        };
}
