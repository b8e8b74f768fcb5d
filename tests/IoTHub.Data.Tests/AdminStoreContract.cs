using IoTHub.Data.Admin;
using IoTHub.Data.Admin.Accounts;
using IoTHub.Data.Admin.ApiKeys;
using IoTHub.Data.Admin.Audit;

namespace IoTHub.Data.Tests;

/// <summary>
/// What the admin API's stores (accounts, API keys, audit log) must do wherever <see cref="AdminStores"/>
/// puts them. Each test class derives from this one and says where its data lives.
/// </summary>
public abstract class AdminStoreContract : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Stores keep times to the millisecond.
    private static readonly DateTimeOffset Noon = new(2026, 5, 1, 12, 0, 0, 123, TimeSpan.Zero);

    protected AdminStores Stores { get; private set; } = null!;

    /// <summary>True when the stores are expected on the database.</summary>
    protected abstract bool InDatabase { get; }

    public virtual async Task InitializeAsync() => Stores = await OpenAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Stores on this test's data; every call opens the same data.</summary>
    protected abstract Task<AdminStores> OpenAsync();

    [Fact]
    public void The_stores_are_where_they_say()
    {
        Assert.Equal(InDatabase, Stores.InDatabase);
    }

    [Fact]
    public async Task Accounts_are_added_once_found_listed_by_name_and_deleted()
    {
        var accounts = Stores.Accounts;
        Assert.True(await accounts.AddAsync(new AdminAccount("carol", "hash-c", "viewer", Noon), default));
        Assert.True(await accounts.AddAsync(new AdminAccount("alice", "hash-a", "admin", Noon.AddDays(1)), default));
        Assert.False(await accounts.AddAsync(new AdminAccount("alice", "other", "viewer", Noon), default));

        var reopened = (await OpenAsync()).Accounts;
        Assert.Equal(new AdminAccount("alice", "hash-a", "admin", Noon.AddDays(1)), await reopened.FindAsync("alice", default));
        Assert.Null(await reopened.FindAsync("Alice", default));
        Assert.Equal(["alice", "carol"], (await reopened.ListAsync(default)).Select(static a => a.UserName));

        Assert.True(await accounts.DeleteAsync("alice", default));
        Assert.False(await accounts.DeleteAsync("alice", default));
        Assert.Null(await reopened.FindAsync("alice", default));
        Assert.Equal([new AdminAccount("carol", "hash-c", "viewer", Noon)], await reopened.ListAsync(default));
    }

    [Fact]
    public async Task An_accounts_password_and_role_are_changed_and_its_creation_time_kept()
    {
        var accounts = Stores.Accounts;
        Assert.True(await accounts.AddAsync(new AdminAccount("dave", "hash-d", "viewer", Noon), default));

        Assert.True(await accounts.UpdateAsync(new AdminAccount("dave", "hash-e", "admin", Noon.AddDays(2)), default));
        Assert.False(await accounts.UpdateAsync(new AdminAccount("nobody", "hash", "admin", Noon), default));

        var reopened = (await OpenAsync()).Accounts;
        Assert.Equal(new AdminAccount("dave", "hash-e", "admin", Noon), await reopened.FindAsync("dave", default));
        Assert.Null(await reopened.FindAsync("nobody", default));
    }

    [Fact]
    public async Task Sign_outs_of_an_account_are_counted_and_kept_through_a_password_and_role_change()
    {
        var accounts = Stores.Accounts;
        Assert.True(await accounts.AddAsync(new AdminAccount("erin", "hash-e", "admin", Noon), default));

        Assert.True(await accounts.SignOutAsync("erin", default));
        Assert.True(await accounts.SignOutAsync("erin", default));
        Assert.True(await accounts.UpdateAsync(new AdminAccount("erin", "hash-f", "viewer", Noon, SignOuts: 0), default));
        Assert.False(await accounts.SignOutAsync("nobody", default));

        var reopened = (await OpenAsync()).Accounts;
        Assert.Equal(new AdminAccount("erin", "hash-f", "viewer", Noon, SignOuts: 2), await reopened.FindAsync("erin", default));
    }

    [Fact]
    public async Task Of_accounts_added_at_once_with_one_name_exactly_one_is_kept()
    {
        // On a database the check and the insert are two statements: the unique index decides between the racers.
        var racers = Enumerable.Range(0, 8).Select(i => new AdminAccount("racer", "hash-" + i, "viewer", Noon)).ToList();
        var stores = await Task.WhenAll(racers.Select(_ => OpenAsync())).WaitAsync(Timeout);

        var added = await Task.WhenAll(racers.Select((account, i) => Task.Run(() => stores[i].Accounts.AddAsync(account, default)))).WaitAsync(Timeout);

        Assert.Single(added, static a => a);
        var kept = await Stores.Accounts.FindAsync("racer", default);
        Assert.Equal(racers[Array.IndexOf(added, true)], kept);
    }

    [Fact]
    public async Task Api_keys_get_ids_are_found_by_hash_listed_by_id_and_deleted()
    {
        var keys = Stores.ApiKeys;
        var first = await keys.AddAsync(new AdminApiKey(0, "backup", "hash-1", "viewer", "admin", Noon), default);
        var second = await keys.AddAsync(new AdminApiKey(0, "deploy", "hash-2", "admin", "alice", Noon.AddHours(1)), default);
        Assert.True(first.Id > 0);
        Assert.True(second.Id > first.Id);
        Assert.Equal(new AdminApiKey(first.Id, "backup", "hash-1", "viewer", "admin", Noon), first);

        var reopened = (await OpenAsync()).ApiKeys;
        Assert.Equal(second, await reopened.FindByHashAsync("hash-2", default));
        Assert.Null(await reopened.FindByHashAsync("hash-3", default));
        Assert.Equal([first, second], await reopened.ListAsync(default));

        Assert.True(await keys.DeleteAsync(first.Id, default));
        Assert.False(await keys.DeleteAsync(first.Id, default));
        Assert.Null(await reopened.FindByHashAsync("hash-1", default));
        Assert.Equal([second], await reopened.ListAsync(default));
    }

    [Fact]
    public async Task The_audit_log_reads_newest_first_in_pages_with_the_total_by_actor_and_by_time()
    {
        var log = Stores.AuditLog;
        var records = Enumerable.Range(1, 7)
            .Select(i => new AuditRecord(Noon.AddSeconds(i), i % 3 == 0 ? "apikey:backup" : "admin", $"POST /api/v1/publish?n={i}", 200 + i, "192.0.2." + i,
                i % 3 == 0 ? AuditSources.ApiKey : i % 3 == 1 ? AuditSources.Api : AuditSources.Dashboard))
            .ToList();
        foreach (var record in records)
        {
            await log.WriteAsync(record, default);
        }

        var reopened = (await OpenAsync()).AuditLog;
        var (all, total) = await reopened.ReadAsync(new AuditQuery(), 0, 100, default);
        Assert.Equal(7, total);
        Assert.Equal(Enumerable.Reverse(records), all);

        var (page, pageTotal) = await reopened.ReadAsync(new AuditQuery(), 2, 3, default);
        Assert.Equal(7, pageTotal);
        Assert.Equal([records[4], records[3], records[2]], page);

        var (byKey, keyTotal) = await reopened.ReadAsync(new AuditQuery("apikey:backup"), 1, 10, default);
        Assert.Equal(2, keyTotal);
        Assert.Equal([records[2]], byKey);

        // Action: a part of it, case-sensitive.
        var (byAction, actionTotal) = await reopened.ReadAsync(new AuditQuery(Action: "publish?n=5"), 0, 10, default);
        Assert.Equal(1, actionTotal);
        Assert.Equal([records[4]], byAction);
        Assert.Equal(0, (await reopened.ReadAsync(new AuditQuery(Action: "PUBLISH"), 0, 10, default)).Total);
        Assert.Equal(2, (await reopened.ReadAsync(new AuditQuery("apikey:backup", Action: "/api/v1/publish"), 0, 10, default)).Total);

        var (nobody, nobodyTotal) = await reopened.ReadAsync(new AuditQuery("nobody"), 0, 10, default);
        Assert.Equal(0, nobodyTotal);
        Assert.Empty(nobody);

        // From is inclusive, to exclusive, to the millisecond.
        var (between, betweenTotal) = await reopened.ReadAsync(new AuditQuery(From: records[1].At, To: records[4].At), 0, 10, default);
        Assert.Equal(3, betweenTotal);
        Assert.Equal([records[3], records[2], records[1]], between);
    }
}
