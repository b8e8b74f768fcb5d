using IoTHub.Data.Admin;
using IoTHub.Data.Admin.Audit;
using IoTHub.Testing;

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
            await Stores.AuditLog.WriteAsync(new AuditRecord(DateTimeOffset.UnixEpoch.AddSeconds(i), "admin", "DELETE /api/v1/retained/" + i, 204, "::1", AuditSources.Api), default);
        }

        var (newest, total) = await Stores.AuditLog.ReadAsync(new AuditQuery(), Capacity - 1, 10, default);

        Assert.Equal(Capacity, total);
        Assert.Equal("DELETE /api/v1/retained/5", Assert.Single(newest).Action);
    }

    protected override Task<AdminStores> OpenAsync() => Task.FromResult(_stores);
}

public sealed class SqliteAdminStoreTests : AdminStoreContract
{
    private MigratedDatabase _database = null!;

    protected override bool InDatabase => true;

    public override async Task InitializeAsync()
    {
        _database = await MigratedDatabase.SqliteAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }

    protected override Task<AdminStores> OpenAsync() => Task.FromResult(AdminStores.Create(_database.Contexts()));
}

[Collection(PostgresServerGroup.Name)]
public sealed class PostgresAdminStoreTests(PostgresServer server) : AdminStoreContract
{
    private MigratedDatabase _database = null!;

    protected override bool InDatabase => true;

    public override async Task InitializeAsync()
    {
        _database = await MigratedDatabase.PostgresAsync(server);
        await base.InitializeAsync();
    }

    protected override Task<AdminStores> OpenAsync() => Task.FromResult(AdminStores.Create(_database.Contexts()));
}
