using IoTHub.Data.Admin;
using IoTHub.Data.Admin.Audit;
using IoTHub.Data.Stores;
using IoTHub.Testing;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Tests;

/// <summary>Without a database: the stores' data is the instance itself, for as long as it lives.</summary>
public sealed class MemoryAdminStoreTests : AdminStoreContract
{
    private readonly AdminStores _stores = AdminStores.Create(database: null);

    protected override bool InDatabase => false;

    [Fact]
    public async Task The_audit_log_keeps_the_newest_ten_thousand_records()
    {
        const int Capacity = 10_000;
        for (var i = 0; i < Capacity + 5; i++)
        {
            await Stores.AuditLog.WriteAsync(new AuditRecord(DateTimeOffset.UnixEpoch.AddSeconds(i), "admin", "DELETE /api/v1/retained/" + i, 204, "::1"), default);
        }

        var (newest, total) = await Stores.AuditLog.ReadAsync(null, Capacity - 1, 10, default);

        Assert.Equal(Capacity, total);
        Assert.Equal("DELETE /api/v1/retained/5", Assert.Single(newest).Action);
    }

    protected override Task<AdminStores> OpenAsync() => Task.FromResult(_stores);
}

public sealed class SqliteAdminStoreTests : AdminStoreContract
{
    private readonly TempDirectory _folder = new();

    protected override bool InDatabase => true;

    private string DatabasePath => Path.Combine(_folder.Path, SqliteStorage.DefaultFileName);

    public override async Task InitializeAsync()
    {
        await using (var context = new BrokerDbContext(SqliteStorage.CreateOptions(DatabasePath)))
        {
            await context.Database.MigrateAsync();
        }

        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _folder.Dispose();
    }

    protected override Task<AdminStores> OpenAsync() =>
        Task.FromResult(AdminStores.Create(new BrokerDbContextFactory(SqliteStorage.CreateOptions(DatabasePath))));
}

[Collection(PostgresServerGroup.Name)]
public sealed class PostgresAdminStoreTests(PostgresServer server) : AdminStoreContract
{
    private string _connectionString = null!;

    protected override bool InDatabase => true;

    public override async Task InitializeAsync()
    {
        _connectionString = await server.CreateDatabaseAsync();
        await PostgresStorage.MigrateAsync(_connectionString);
        await base.InitializeAsync();
    }

    protected override Task<AdminStores> OpenAsync() =>
        Task.FromResult(AdminStores.Create(new BrokerDbContextFactory(PostgresStorage.CreateOptions(_connectionString))));
}
