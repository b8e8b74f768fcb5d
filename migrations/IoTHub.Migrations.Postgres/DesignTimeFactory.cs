using IoTHub.Data;
using IoTHub.Data.Stores;
using Microsoft.EntityFrameworkCore.Design;

namespace IoTHub.Migrations.Postgres;

/// <summary>
/// For `dotnet ef`: a context on the PostgreSQL provider. The connection string comes after `--`
/// (`dotnet ef database update ... -- "Host=...;Database=iothub;Username=..."`), else the
/// IOTHUB_POSTGRES environment variable; adding a migration needs no server.
/// </summary>
internal sealed class DesignTimeFactory : IDesignTimeDbContextFactory<BrokerDbContext>
{
    public BrokerDbContext CreateDbContext(string[] args) =>
        new(PostgresStorage.CreateOptions(args.Length > 0 ? args[0]
            : Environment.GetEnvironmentVariable("IOTHUB_POSTGRES") ?? "Host=127.0.0.1;Database=iothub;Username=postgres"));
}
