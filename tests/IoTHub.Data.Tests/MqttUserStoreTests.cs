using IoTHub.Broker.Security.Users;
using IoTHub.Data.MqttUsers;
using IoTHub.Testing;

namespace IoTHub.Data.Tests;

/// <summary>What the built-in MQTT users' store must do wherever <see cref="MqttUserStores"/> puts it.</summary>
public abstract class MqttUserStoreContract : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Stores keep times to the millisecond.
    private static readonly DateTimeOffset Noon = new(2026, 5, 1, 12, 0, 0, 123, TimeSpan.Zero);

    private MigratedDatabase? _database;
    private IMqttUserStore? _memory;

    protected IMqttUserStore Users { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _database = await CreateDatabaseAsync();
        Users = await OpenAsync();
    }

    public Task DisposeAsync()
    {
        _database?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The database this class tests on; null: none (the store is in memory).</summary>
    protected abstract Task<MigratedDatabase?> CreateDatabaseAsync();

    /// <summary>A store on this test's data; every call opens the same data.</summary>
    private Task<IMqttUserStore> OpenAsync() =>
        Task.FromResult(_database is { } database ? MqttUserStores.Create(database.Contexts()) : _memory ??= MqttUserStores.Create(database: null));

    [Fact]
    public async Task Users_are_added_once_found_by_exact_name_listed_in_order_changed_and_deleted()
    {
        var alice = new MqttUser("alice", "$7$101$c2FsdA==$aGFzaA==", true, "%u-*", Noon, Noon, "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy", Superuser: true);
        Assert.True(await Users.AddAsync(alice, default));
        Assert.True(await Users.AddAsync(new MqttUser("Bob", "$6$c2FsdA==$aGFzaA==", false, null, Noon.AddDays(1), Noon.AddDays(1)), default));
        Assert.True(await Users.AddAsync(new MqttUser("bob", "hash-b", true, null, Noon, Noon), default));
        Assert.False(await Users.AddAsync(alice with { PasswordHash = "other" }, default));

        var reopened = await OpenAsync();
        Assert.Equal(alice, await reopened.FindAsync("alice", default));
        Assert.Null(await reopened.FindAsync("Alice", default));
        Assert.Equal(["Bob", "alice", "bob"], (await reopened.ListAsync(default)).Select(static u => u.UserName));

        // The creation time stays whatever the update says.
        var changed = alice with
        {
            PasswordHash = "new-hash", ScramSha256 = null, Enabled = false, ClientIdPattern = null, CreatedAt = Noon.AddYears(1), ChangedAt = Noon.AddHours(2),
            Superuser = false,
        };
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
    [Fact]
    public void Without_a_database_the_users_are_in_memory()
    {
        Assert.IsType<MemoryMqttUserStore>(Users);
    }

    protected override Task<MigratedDatabase?> CreateDatabaseAsync() => Task.FromResult<MigratedDatabase?>(null);
}

public sealed class SqliteMqttUserStoreTests : MqttUserStoreContract
{
    protected override async Task<MigratedDatabase?> CreateDatabaseAsync() => await MigratedDatabase.SqliteAsync();
}

[Collection(PostgresServerGroup.Name)]
public sealed class PostgresMqttUserStoreTests(PostgresServer server) : MqttUserStoreContract
{
    protected override async Task<MigratedDatabase?> CreateDatabaseAsync() => await MigratedDatabase.PostgresAsync(server);
}
