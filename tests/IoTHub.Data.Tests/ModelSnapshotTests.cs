using IoTHub.Data.Stores;
using IoTHub.Testing;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Tests;

/// <summary>
/// The model in code is the model of the latest migration, for each provider: a change to an entity
/// or its configuration that lacks its migration (what `dotnet ef migrations add` would find) fails here.
/// </summary>
public sealed class SqliteModelSnapshotTests : IDisposable
{
    private readonly TempDirectory _folder = new();

    [Fact]
    public async Task The_model_has_no_changes_beyond_the_latest_migration()
    {
        await using var context = new BrokerDbContext(SqliteStorage.CreateOptions(Path.Combine(_folder.Path, SqliteStorage.DefaultFileName)));
        await context.Database.MigrateAsync();

        Assert.False(context.Database.HasPendingModelChanges());
    }

    public void Dispose() => _folder.Dispose();
}

[Collection(PostgresServerGroup.Name)]
public sealed class PostgresModelSnapshotTests(PostgresServer server)
{
    [Fact]
    public async Task The_model_has_no_changes_beyond_the_latest_migration()
    {
        await using var context = new BrokerDbContext(PostgresStorage.CreateOptions(await server.CreateDatabaseAsync()));
        await context.Database.MigrateAsync();

        Assert.False(context.Database.HasPendingModelChanges());
    }
}
