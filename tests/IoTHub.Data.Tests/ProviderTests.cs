using IoTHub.Broker.Storage;
using IoTHub.Data;
using IoTHub.Data.Stores;
using IoTHub.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Tests;

public sealed class MemoryStoreTests : StoreContract
{
    // "The same data" for a volatile store: one model shared by the stores a test opens.
    private readonly StorageModel _data = new();

    protected override Task<IBrokerStore> OpenAsync() => Task.FromResult<IBrokerStore>(new MemoryBrokerStore(_data));
}

public sealed class SqliteStoreTests : StoreContract
{
    private readonly TempDirectory _folder = new();

    private string DatabasePath => Path.Combine(_folder.Path, SqliteStorage.DefaultFileName);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task The_database_file_is_migrated_and_in_wal_mode()
    {
        await CommitAsync(StorageOperation.SetRetained(Message("t", "x")));

        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", await command.ExecuteScalarAsync());
        command.CommandText = "SELECT COUNT(*) FROM __EFMigrationsHistory";
        await using var context = new BrokerDbContext(SqliteStorage.CreateOptions(DatabasePath));
        Assert.Equal((long)context.Database.GetMigrations().Count(), await command.ExecuteScalarAsync());
    }

    protected override async Task<IBrokerStore> OpenAsync() => await SqliteStorage.OpenAsync(DatabasePath, StorageDurability.Strict);
}

[Collection(PostgresServerGroup.Name)]
public sealed class PostgresStoreTests(PostgresServer server) : StoreContract
{
    private string _connectionString = null!;

    public override async Task InitializeAsync()
    {
        _connectionString = await server.CreateDatabaseAsync();
        await base.InitializeAsync();
    }

    [Fact]
    public async Task A_database_without_migrations_is_refused_unless_migrating_on_open()
    {
        var fresh = await server.CreateDatabaseAsync();

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => PostgresStorage.OpenAsync(fresh, StorageDurability.Strict, migrate: false));
        Assert.Contains("MigrateOnStart", refused.Message, StringComparison.Ordinal);

        await PostgresStorage.MigrateAsync(fresh);
        await using var store = await PostgresStorage.OpenAsync(fresh, StorageDurability.Strict, migrate: false);
        Assert.Empty((await store.LoadAsync()).Sessions);
    }

    protected override async Task<IBrokerStore> OpenAsync() => await PostgresStorage.OpenAsync(_connectionString, StorageDurability.Strict, migrate: true);
}
