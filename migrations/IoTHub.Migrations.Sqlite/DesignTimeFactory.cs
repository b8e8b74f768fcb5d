using IoTHub.Data;
using IoTHub.Data.Stores;
using Microsoft.EntityFrameworkCore.Design;

namespace IoTHub.Migrations.Sqlite;

/// <summary>For `dotnet ef`: a context on the SQLite provider. The file is never opened to add a migration.</summary>
internal sealed class DesignTimeFactory : IDesignTimeDbContextFactory<BrokerDbContext>
{
    public BrokerDbContext CreateDbContext(string[] args) =>
        new(SqliteStorage.CreateOptions(args.Length > 0 ? args[0] : "data/iothub.db"));
}
