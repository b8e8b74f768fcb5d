using IoTHub.Broker.Security.Users;
using IoTHub.Data.MqttUsers;
using IoTHub.Data.Stores;
using IoTHub.Testing;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Tests;

/// <summary>What the built-in MQTT users' store must do wherever <see cref="MqttUserStores"/> puts it.</summary>
public abstract class MqttUserStoreContract : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Stores keep times to the millisecond.
    private static readonly DateTimeOffset Noon = new(2026, 5, 1, 12, 0, 0, 123, TimeSpan.Zero);

    protected IMqttUserStore Users { get; private set; } = null!;

    public virtual async Task InitializeAsync() => Users = await OpenAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    /// <summary>A store on this test's data; every call opens the same data.</summary>
    protected abstract Task<IMqttUserStore> OpenAsync();

    [Fact]
    public async Task Users_are_added_once_found_by_exact_name_listed_in_order_changed_and_deleted()
    {
        var alice = new MqttUser("alice", "$7$101$c2FsdA==$aGFzaA==", true, "%u-*", Noon, Noon);
        Assert.True(await Users.AddAsync(alice, default));
        Assert.True(await Users.AddAsync(new MqttUser("Bob", "$6$c2FsdA==$aGFzaA==", false, null, Noon.AddDays(1), Noon.AddDays(1)), default));
        Assert.True(await Users.AddAsync(new MqttUser("bob", "hash-b", true, null, Noon, Noon), default));
        Assert.False(await Users.AddAsync(alice with { PasswordHash = "other" }, default));

        var reopened = await OpenAsync();
        Assert.Equal(alice, await reopened.FindAsync("alice", default));
        Assert.Null(await reopened.FindAsync("Alice", default));
        Assert.Equal(["Bob", "alice", "bob"], (await reopened.ListAsync(default)).Select(static u => u.UserName));

        // The creation time stays whatever the update says.
        var changed = alice with { PasswordHash = "new-hash", Enabled = false, ClientIdPattern = null, CreatedAt = Noon.AddYears(1), ChangedAt = Noon.AddHours(2) };
        Assert.True(await Users.UpdateAsync(changed, default));
        Assert.Equal(changed with { CreatedAt = Noon }, await reopened.FindAsync("alice", default));
        Assert.False(await Users.UpdateAsync(changed with { UserName = "carol" }, default));
        Assert.Null(await reopened.FindAsync("carol", default));

        Assert.True(await Users.DeleteAsync("alice", default));
        Assert.False(await Users.DeleteAsync("alice", default));
        Assert.Null(await reopened.FindAsync("alice", default));
        Assert.Equal(["Bob", "bob"], (await reopened.ListAsync(default)).Select(static u => u.UserName));
    }

    [Fact]
    public async Task Of_users_added_at_once_with_one_name_exactly_one_is_kept()
    {
        var racers = Enumerable.Range(0, 8).Select(i => new MqttUser("racer", "hash-" + i, true, null, Noon, Noon)).ToList();
        var stores = await Task.WhenAll(racers.Select(_ => OpenAsync())).WaitAsync(Timeout);

        var added = await Task.WhenAll(racers.Select((user, i) => Task.Run(() => stores[i].AddAsync(user, default)))).WaitAsync(Timeout);

        Assert.Single(added, static a => a);
        Assert.Equal(racers[Array.IndexOf(added, true)], await Users.FindAsync("racer", default));
    }
}

public sealed class MemoryMqttUserStoreTests : MqttUserStoreContract
{
    private readonly IMqttUserStore _store = MqttUserStores.Create(database: null);

    [Fact]
    public void Without_a_database_the_users_are_in_memory()
    {
        Assert.IsType<MemoryMqttUserStore>(_store);
    }

    protected override Task<IMqttUserStore> OpenAsync() => Task.FromResult(_store);
}

public sealed class SqliteMqttUserStoreTests : MqttUserStoreContract
{
    private readonly TempDirectory _folder = new();

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

    protected override Task<IMqttUserStore> OpenAsync() =>
        Task.FromResult(MqttUserStores.Create(new BrokerDbContextFactory(SqliteStorage.CreateOptions(DatabasePath))));
}

[Collection(PostgresServerGroup.Name)]
public sealed class PostgresMqttUserStoreTests(PostgresServer server) : MqttUserStoreContract
{
    private string _connectionString = null!;

    public override async Task InitializeAsync()
    {
        _connectionString = await server.CreateDatabaseAsync();
        await PostgresStorage.MigrateAsync(_connectionString);
        await base.InitializeAsync();
    }

    protected override Task<IMqttUserStore> OpenAsync() =>
        Task.FromResult(MqttUserStores.Create(new BrokerDbContextFactory(PostgresStorage.CreateOptions(_connectionString))));
}
