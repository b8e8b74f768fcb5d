using IoTHub.Broker.Storage;
using IoTHub.Data;
using IoTHub.Data.Stores;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

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
    // Cluster nodes of the forward receipt tests: one forwards QoS 2 calls to the other.
    private const string Sender = "10.0.1.1:11111";
    private const string Receiver = "10.0.1.2:11111";

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

    [Fact]
    public async Task Nodes_of_a_cluster_load_their_own_sessions_and_a_session_taken_over_is_fenced_from_its_previous_owner()
    {
        // Store is this test class's store, of no node: a session it wrote before clustering goes to the first node that loads.
        await CommitAsync(StorageOperation.UpsertSession("legacy", 60, DateTimeOffset.UnixEpoch));
        await using var first = await PostgresStorage.OpenAsync(_connectionString, StorageDurability.Strict, migrate: false);
        await using var second = await PostgresStorage.OpenAsync(_connectionString, StorageDurability.Strict, migrate: false);
        first.ActForNode("10.0.0.1:11111");
        second.ActForNode("10.0.0.2:11111");
        Assert.Equal("legacy", Assert.Single((await first.LoadAsync()).Sessions).ClientId);

        var queued = Message("t/1", "queued", QualityOfService.AtLeastOnce);
        var inflight = Message("t/2", "in flight", QualityOfService.AtLeastOnce);
        await first.CommitAsync(new[]
        {
            StorageOperation.UpsertSession("mover", 60, null),
            StorageOperation.AddSubscription("mover", "t/#", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0),
            StorageOperation.EnqueueMessage("mover", 2, queued, QualityOfService.AtLeastOnce, retain: false),
            StorageOperation.SetOutgoingInflight("mover", 7, 1, inflight, QualityOfService.AtLeastOnce, retain: false, released: false),
            StorageOperation.AddIncomingQos2("mover", 9),
        });
        Assert.Empty((await second.LoadAsync()).Sessions);

        // Taken over: all of it, in one transaction that makes the second node its owner.
        var taken = await second.TakeSessionAsync("mover", fromNode: null, CancellationToken.None);
        Assert.NotNull(taken);
        Assert.Equal("t/#", Assert.Single(taken.Subscriptions).TopicFilter);
        AssertMessage(queued, Assert.Single(taken.Queued).Message);
        Assert.Equal(7, Assert.Single(taken.Outgoing).PacketId);
        Assert.Equal([(ushort)9], taken.IncomingQos2);
        Assert.Null(await second.TakeSessionAsync("never-stored", fromNode: null, CancellationToken.None));

        // The first node's late writes change nothing of it: no new message, no removal, no new expiry, no delete.
        await first.CommitAsync(new[]
        {
            StorageOperation.EnqueueMessage("mover", 3, Message("t/3", "late"), QualityOfService.AtLeastOnce, retain: false),
            StorageOperation.RemoveOutgoingInflight("mover", 7),
            StorageOperation.UpsertSession("mover", 1, DateTimeOffset.UnixEpoch),
            StorageOperation.DeleteSession("mover"),
        });
        Assert.DoesNotContain((await first.LoadAsync()).Sessions, s => s.ClientId == "mover");
        var kept = Assert.Single((await second.LoadAsync()).Sessions);
        Assert.Equal(60u, kept.ExpiryInterval);
        Assert.Single(kept.Queued);
        Assert.Single(kept.Outgoing);

        // Its new owner's writes go on as before.
        await second.CommitAsync(new[] { StorageOperation.DeleteSession("mover") });
        Assert.Empty((await second.LoadAsync()).Sessions);
    }

    [Fact]
    public async Task A_survivor_takes_a_dead_nodes_sessions_and_wills_only_from_it_and_ends_its_database_sessions()
    {
        await using var dead = await PostgresStorage.OpenAsync(PostgresStorage.ForNode(_connectionString, "10.0.0.3:11111"), StorageDurability.Strict,
            migrate: false);
        await using var survivor = await PostgresStorage.OpenAsync(_connectionString, StorageDurability.Strict, migrate: false);
        dead.ActForNode("10.0.0.3:11111");
        survivor.ActForNode("10.0.0.4:11111");
        await dead.LoadAsync();
        var held = Message("w/held", "held will");
        await dead.CommitAsync(new[]
        {
            StorageOperation.UpsertSession("offline", 60, DateTimeOffset.UnixEpoch),
            StorageOperation.SetWill("offline", held, 30, DateTimeOffset.UnixEpoch.AddDays(1), 10),
            StorageOperation.UpsertSession("elsewhere", 60, null),

            // A connection's will, replaced by a later connection of the client id (a larger claim), never by an earlier one.
            StorageOperation.SetConnectionWill("connected", 5, Message("w/old", "old"), 0, null),
            StorageOperation.SetConnectionWill("connected", 7, Message("w/new", "new"), 3, 20),
            StorageOperation.SetConnectionWill("connected", 6, Message("w/older", "older"), 0, null),

            // The end of a connection deletes its own will only.
            StorageOperation.SetConnectionWill("gone", 4, Message("w/gone", "gone"), 0, null),
            StorageOperation.DeleteConnectionWill("gone", 3),
            StorageOperation.DeleteConnectionWill("gone", 4),
        });

        Assert.Equal(["elsewhere", "offline"], (await survivor.ListSessionsAsync("10.0.0.3:11111", CancellationToken.None)).Order(StringComparer.Ordinal));

        // Frozen in an open transaction, the dead node holds the session's row lock: a take waits for it.
        await using var frozen = new NpgsqlConnection(PostgresStorage.ForNode(_connectionString, "10.0.0.3:11111"));
        await frozen.OpenAsync();
        await using var transaction = await frozen.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM sessions WHERE client_id = 'offline' FOR UPDATE", frozen, transaction))
        {
            await lockRow.ExecuteScalarAsync();
        }

        using (var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => survivor.TakeSessionAsync("offline", "10.0.0.3:11111", bounded.Token));
        }

        // Its database sessions (their application name ends with its name) are ended, the lock with them; none of the survivor's.
        Assert.Equal(2, await survivor.EndConnectionsAsync("10.0.0.3:11111", CancellationToken.None));
        await Poll.UntilAsync(async () => await survivor.EndConnectionsAsync("10.0.0.3:11111", CancellationToken.None) == 0, TimeSpan.FromSeconds(10),
            "the dead node's database sessions did not end");

        // "elsewhere" was taken by a CONNECT on a third node meanwhile: an adoption (only from the dead node) leaves it there.
        await using var third = await PostgresStorage.OpenAsync(_connectionString, StorageDurability.Strict, migrate: false);
        third.ActForNode("10.0.0.5:11111");
        Assert.NotNull(await third.TakeSessionAsync("elsewhere", fromNode: null, CancellationToken.None));
        Assert.Null(await survivor.TakeSessionAsync("elsewhere", "10.0.0.3:11111", CancellationToken.None));

        // The offline session comes with the will it held for its delay.
        var adopted = await survivor.TakeSessionAsync("offline", "10.0.0.3:11111", CancellationToken.None);
        Assert.NotNull(adopted);
        var will = Assert.NotNull(adopted.Will);
        AssertMessage(held, will.Message);
        Assert.Equal((30u, (uint?)10u), (will.DelayInterval, will.ExpiryInterval));
        Assert.Empty(await survivor.ListSessionsAsync("10.0.0.3:11111", CancellationToken.None));

        // The connections' wills are taken once: a second adopter finds none.
        var wills = await survivor.TakeConnectionWillsAsync("10.0.0.3:11111", CancellationToken.None);
        var connected = Assert.Single(wills);
        Assert.Equal("connected", connected.ClientId);
        AssertMessage(Message("w/new", "new"), connected.Message);
        Assert.Equal((3u, (uint?)20u), (connected.DelayInterval, connected.ExpiryInterval));
        Assert.Empty(await third.TakeConnectionWillsAsync("10.0.0.3:11111", CancellationToken.None));
    }

    /// <summary>
    /// A burst of session takes (the clients of a dead cluster node claiming their sessions on one node at once) waits for the store's pool
    /// of 20 connections instead of opening one connection each: PostgreSQL's max_connections (100 by default) is shared by every node,
    /// and over it every take failed with 53300 "too many clients". 40 takes wait on a row lock, each holding a connection while it waits.
    /// </summary>
    [Fact]
    public async Task A_burst_of_session_takes_waits_for_the_pool_instead_of_opening_a_connection_each()
    {
        const string Node = "10.0.0.7:11111";
        // Pooled, as a deployment's connection string is (the tests' other stores are not, so that nothing outlives a test).
        var pooled = new NpgsqlConnectionStringBuilder(PostgresStorage.ForNode(_connectionString, Node)) { Pooling = true }.ConnectionString;
        await using var store = await PostgresStorage.OpenAsync(pooled, StorageDurability.Strict, migrate: false);
        store.ActForNode("10.0.0.8:11111");
        await using (var owner = await PostgresStorage.OpenAsync(_connectionString, StorageDurability.Strict, migrate: false))
        {
            owner.ActForNode("10.0.0.6:11111");
            await owner.CommitAsync(new[] { StorageOperation.UpsertSession("burst", 60, DateTimeOffset.UnixEpoch) });
        }

        await using var locker = new NpgsqlConnection(_connectionString);
        await locker.OpenAsync();
        await using var transaction = await locker.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM sessions WHERE client_id = 'burst' FOR UPDATE", locker, transaction))
        {
            await lockRow.ExecuteScalarAsync();
        }

        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var takes = Enumerable.Range(0, 40).Select(_ => Task.Run(() => store.TakeSessionAsync("burst", "10.0.0.6:11111", bounded.Token))).ToArray();
        await using var observer = new NpgsqlConnection(_connectionString);
        await observer.OpenAsync();
        async Task<long> OpenConnectionsAsync()
        {
            await using var count = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '%[" + Node + "]'", observer);
            return (long)(await count.ExecuteScalarAsync())!;
        }

        await Poll.UntilAsync(async () => await OpenConnectionsAsync() >= PostgresStorage.DefaultMaximumPoolSize, TimeSpan.FromSeconds(30),
            "the takes did not fill the pool");

        // A held window: the other 20 takes wait for a pooled connection; none opens one of its own, and none fails meanwhile.
        var watched = Task.Delay(TimeSpan.FromMilliseconds(500));
        while (!watched.IsCompleted)
        {
            Assert.Equal(PostgresStorage.DefaultMaximumPoolSize, await OpenConnectionsAsync());
        }

        Assert.DoesNotContain(takes, take => take.IsCompleted);
        await transaction.RollbackAsync();
        var taken = await Task.WhenAll(takes);
        Assert.Single(taken, session => session is not null);
        NpgsqlConnection.ClearAllPools(); // so that the database can be dropped after the class
    }

    [Fact]
    public async Task A_forward_receipt_commits_with_its_batch_and_the_fence_returns_its_sequence_once()
    {
        await using var receiver = await OpenForNodeAsync(Receiver);
        await using var sender = await OpenForNodeAsync(Sender);
        var forwarded = Message("t/f", "forwarded", QualityOfService.ExactlyOnce);
        await receiver.CommitAsync(new[]
        {
            StorageOperation.UpsertSession("forwarded", 60, DateTimeOffset.UnixEpoch),
            StorageOperation.EnqueueMessage("forwarded", 1, forwarded, QualityOfService.ExactlyOnce, retain: false),
            StorageOperation.ForwardReceipt(Sender, Receiver, 7, 0),
        });

        Assert.Equal(new[] { 7L }, await sender.FenceForwardsAsync(Sender, Receiver, [6, 7, 8], CancellationToken.None));
        AssertMessage(forwarded, Assert.Single(Assert.Single((await receiver.LoadAsync()).Sessions).Queued).Message);

        // Forgotten once read.
        Assert.Empty(await sender.FenceForwardsAsync(Sender, Receiver, [7], CancellationToken.None));
    }

    [Fact]
    public async Task After_the_fence_a_batch_of_the_fenced_node_carrying_a_receipt_fails_as_a_whole()
    {
        await using var receiver = await OpenForNodeAsync(Receiver);
        await using var sender = await OpenForNodeAsync(Sender);
        await receiver.CommitAsync(new[] { StorageOperation.ForwardReceipt(Sender, Receiver, 1, 0) });
        Assert.Equal(new[] { 1L }, await sender.FenceForwardsAsync(Sender, Receiver, [1, 2], CancellationToken.None));

        var fenced = await Assert.ThrowsAsync<ForwardFencedException>(() => receiver.CommitAsync(new[]
        {
            StorageOperation.UpsertSession("late", 60, DateTimeOffset.UnixEpoch),
            StorageOperation.ForwardReceipt(Sender, Receiver, 2, 0),
        }));
        Assert.Equal(Receiver, fenced.Node);
        Assert.Empty((await receiver.LoadAsync()).Sessions);
        Assert.Empty(await sender.FenceForwardsAsync(Sender, Receiver, [2], CancellationToken.None));

        // A batch without a receipt is not fenced by it (the node's sessions are, once taken over).
        await receiver.CommitAsync(new[] { StorageOperation.UpsertSession("plain", 60, DateTimeOffset.UnixEpoch) });
        Assert.Equal("plain", Assert.Single((await receiver.LoadAsync()).Sessions).ClientId);
    }

    [Fact]
    public async Task The_fence_waits_for_a_commit_of_the_fenced_node_in_progress_and_then_returns_its_receipt()
    {
        await using var sender = await OpenForNodeAsync(Sender);

        // The receiving node's commit in progress, as its batch would write a receipt: the fence row's lock is held until it commits.
        await using var receiving = new NpgsqlConnection(_connectionString);
        await receiving.OpenAsync();
        await using var transaction = await receiving.BeginTransactionAsync();
        await using (var receipt = new NpgsqlCommand("INSERT INTO forward_fences (node, fenced, touched_at) VALUES (@to, FALSE, 0) " +
            "ON CONFLICT (node) DO UPDATE SET touched_at = excluded.touched_at WHERE NOT forward_fences.fenced; " +
            "INSERT INTO forward_receipts (from_node, to_node, sequence) VALUES (@from, @to, 9)", receiving, transaction))
        {
            receipt.Parameters.AddWithValue("from", Sender);
            receipt.Parameters.AddWithValue("to", Receiver);
            await receipt.ExecuteNonQueryAsync();
        }

        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var fence = sender.FenceForwardsAsync(Sender, Receiver, [9], bounded.Token);
        await using var observer = new NpgsqlConnection(_connectionString);
        await observer.OpenAsync();
        await Poll.UntilAsync(async () =>
        {
            await using var waiting = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                observer);
            return fence.IsCompleted || (long)(await waiting.ExecuteScalarAsync())! > 0;
        }, TimeSpan.FromSeconds(10), "the fence neither waited for the row lock nor completed");

        // A held window: the fence waits for the commit in progress and does not complete before it.
        await Task.WhenAny(fence, Task.Delay(TimeSpan.FromMilliseconds(300)));
        Assert.False(fence.IsCompleted);

        await transaction.CommitAsync();
        Assert.Equal(new[] { 9L }, await fence);
    }

    [Fact]
    public async Task A_receipt_prunes_the_older_receipts_of_its_pair_only()
    {
        const string OtherSender = "10.0.1.3:11111";
        await using var receiver = await OpenForNodeAsync(Receiver);
        await using var sender = await OpenForNodeAsync(Sender);
        await receiver.CommitAsync(new[]
        {
            StorageOperation.ForwardReceipt(Sender, Receiver, 1, 0),
            StorageOperation.ForwardReceipt(Sender, Receiver, 2, 0),
            StorageOperation.ForwardReceipt(Sender, Receiver, 3, 0),
            StorageOperation.ForwardReceipt(OtherSender, Receiver, 1, 0),
        });
        await receiver.CommitAsync(new[] { StorageOperation.ForwardReceipt(Sender, Receiver, 4, 3) });

        Assert.Equal(new[] { 3L, 4L }, (await sender.FenceForwardsAsync(Sender, Receiver, [1, 2, 3, 4], CancellationToken.None)).Order());
        Assert.Equal(new[] { 1L }, await sender.FenceForwardsAsync(OtherSender, Receiver, [1], CancellationToken.None));
    }

    /// <summary>A store of this test's database acting for cluster node <paramref name="node"/>.</summary>
    private async Task<RelationalBrokerStore> OpenForNodeAsync(string node)
    {
        var store = await PostgresStorage.OpenAsync(_connectionString, StorageDurability.Strict, migrate: false);
        store.ActForNode(node);
        await store.LoadAsync();
        return store;
    }

    protected override async Task<IBrokerStore> OpenAsync() => await PostgresStorage.OpenAsync(_connectionString, StorageDurability.Strict, migrate: true);
}
