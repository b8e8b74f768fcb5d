using IoTHub.Broker.Security.Audit;
using IoTHub.Data.AccessAudit;
using IoTHub.Testing;

namespace IoTHub.Data.Tests;

/// <summary>What the access audit's log must do wherever <see cref="AccessAuditLogs"/> puts it; each class below says where.</summary>
public abstract class AccessAuditLogContract : IAsyncLifetime
{
    // Stores keep times to the millisecond.
    private static readonly DateTimeOffset Noon = new(2026, 5, 1, 12, 0, 0, 123, TimeSpan.Zero);

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync() => Task.CompletedTask;

    /// <summary>The log on this test's data; every call opens the same data.</summary>
    protected abstract IAccessAuditLog Open();

    [Fact]
    public async Task Entries_read_back_newest_first_with_every_field_in_pages_with_the_total()
    {
        var entries = Decisions();
        await Open().WriteAsync(entries[..4], default);
        await Open().WriteAsync(entries[4..], default);

        var (all, total) = await Open().ReadAsync(new AccessAuditQuery(), 0, 100, default);
        Assert.Equal(entries.Length, total);
        Assert.Equal(Enumerable.Reverse(entries), all);

        var (page, pageTotal) = await Open().ReadAsync(new AccessAuditQuery(), 2, 3, default);
        Assert.Equal(entries.Length, pageTotal);
        Assert.Equal([entries[^3], entries[^4], entries[^5]], page);
    }

    [Fact]
    public async Task Each_criterion_keeps_only_what_it_names()
    {
        var entries = Decisions();
        await Open().WriteAsync(entries, default);

        async Task<IEnumerable<AccessAuditEntry>> Find(AccessAuditQuery query)
        {
            var (found, total) = await Open().ReadAsync(query, 0, 100, default);
            Assert.Equal(found.Count, total);
            return found.Reverse();
        }

        Assert.Equal([entries[0], entries[2]], await Find(new AccessAuditQuery(ClientId: "sensor-1")));
        Assert.Empty(await Find(new AccessAuditQuery(ClientId: "sensor"))); // exact, not a part
        Assert.Equal([entries[1]], await Find(new AccessAuditQuery(UserName: "bob")));
        Assert.Equal([entries[0], entries[1]], await Find(new AccessAuditQuery(Topic: "secret/")));
        Assert.Empty(await Find(new AccessAuditQuery(Topic: "SECRET"))); // case-sensitive
        Assert.Equal([entries[2], entries[3]], await Find(new AccessAuditQuery(Result: AccessAuditResult.Allow)));
        Assert.Equal([entries[4]], await Find(new AccessAuditQuery(Result: AccessAuditResult.Dropped)));
        Assert.Equal([entries[1], entries[2]], await Find(new AccessAuditQuery(From: entries[1].At, To: entries[3].At)));
        Assert.Equal([entries[0]], await Find(new AccessAuditQuery(ClientId: "sensor-1", Result: AccessAuditResult.Deny, To: entries[1].At)));
    }

    private static AccessAuditEntry[] Decisions() =>
    [
        new(Noon, AccessAuditResult.Deny, "default", "tcp://127.0.0.1:1883", "127.0.0.1:50001", "alice", "sensor-1", AccessAuditAction.Publish,
            "secret/plans", "/etc/iothub/acl:3"),
        new(Noon.AddSeconds(1), AccessAuditResult.Deny, "lab", "ws://0.0.0.0:8083/mqtt", "[::1]:50002", "bob", "sensor-2", AccessAuditAction.Subscribe,
            "secret/#", AccessAuditEntry.DefaultRule),
        new(Noon.AddSeconds(2), AccessAuditResult.Allow, "default", "tcp://127.0.0.1:1883", "127.0.0.1:50001", "alice", "sensor-1",
            AccessAuditAction.Publish, "alice/t", "/etc/iothub/acl:7"),
        new(Noon.AddSeconds(3), AccessAuditResult.Allow, "default", "unix:///run/iothub/mqtt.sock", "unknown", null, "anonymous-1",
            AccessAuditAction.Receive, "public/news", "/etc/iothub/acl:1"),
        AccessAuditEntry.Summary(Noon.AddSeconds(4), 19_000),
    ];
}

public sealed class MemoryAccessAuditLogTests : AccessAuditLogContract
{
    private readonly IAccessAuditLog _log = AccessAuditLogs.Create(database: null);

    [Fact]
    public async Task It_keeps_the_newest_ten_thousand_entries()
    {
        const int Capacity = 10_000;
        var entries = Enumerable.Range(0, Capacity + 5).Select(static i => AccessAuditEntry.Summary(DateTimeOffset.UnixEpoch.AddSeconds(i), i)).ToList();
        await _log.WriteAsync(entries, default);

        var (oldest, total) = await _log.ReadAsync(new AccessAuditQuery(), Capacity - 1, 10, default);

        Assert.Equal(Capacity, total);
        Assert.Equal(5, Assert.Single(oldest).Dropped);
    }

    protected override IAccessAuditLog Open() => _log;
}

public sealed class SqliteAccessAuditLogTests : AccessAuditLogContract
{
    private MigratedDatabase _database = null!;

    public override async Task InitializeAsync() => _database = await MigratedDatabase.SqliteAsync();

    public override Task DisposeAsync()
    {
        _database.Dispose();
        return Task.CompletedTask;
    }

    protected override IAccessAuditLog Open() => AccessAuditLogs.Create(_database.Contexts());
}

[Collection(PostgresServerGroup.Name)]
public sealed class PostgresAccessAuditLogTests(PostgresServer server) : AccessAuditLogContract
{
    private MigratedDatabase _database = null!;

    public override async Task InitializeAsync() => _database = await MigratedDatabase.PostgresAsync(server);

    protected override IAccessAuditLog Open() => AccessAuditLogs.Create(_database.Contexts());
}
