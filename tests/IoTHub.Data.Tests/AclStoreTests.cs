using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Roles;
using IoTHub.Broker.Security.Users;
using IoTHub.Data.MqttUsers;
using IoTHub.Data.Roles;
using IoTHub.Testing;

namespace IoTHub.Data.Tests;

/// <summary>
/// What the store of roles, memberships and stored access rules must do wherever <see cref="AclStores"/> puts it: in
/// memory beside the users, on SQLite files, on PostgreSQL. Deleting a user or a role takes what belongs to it along.
/// </summary>
public abstract class AclStoreContract : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Stores keep times to the millisecond.
    private static readonly DateTimeOffset Noon = new(2026, 5, 1, 12, 0, 0, 123, TimeSpan.Zero);

    private MigratedDatabase? _database;
    private (IMqttUserStore Users, IAclStore Acl)? _memory;

    protected IMqttUserStore Users { get; private set; } = null!;

    protected IAclStore Acl { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _database = await CreateDatabaseAsync();
        (Users, Acl) = Open();
        foreach (var name in new[] { "alice", "bob", "root" })
        {
            Assert.True(await Users.AddAsync(new MqttUser(name, "hash", true, null, Noon, Noon, Superuser: name == "root"), default));
        }
    }

    public Task DisposeAsync()
    {
        _database?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The database this class tests on; null: none (the stores are in memory).</summary>
    protected abstract Task<MigratedDatabase?> CreateDatabaseAsync();

    /// <summary>Stores on this test's data; every call opens the same data.</summary>
    private (IMqttUserStore Users, IAclStore Acl) Open()
    {
        if (_database is { } database)
        {
            var users = MqttUserStores.Create(database.Contexts());
            return (users, AclStores.Create(database.Contexts(), users));
        }

        if (_memory is null)
        {
            var users = MqttUserStores.Create(database: null);
            _memory = (users, AclStores.Create(database: null, users));
        }

        return _memory.Value;
    }

    [Fact]
    public async Task Roles_are_added_once_found_listed_in_order_renamed_described_and_deleted()
    {
        var sensors = new Role("sensors", "field units", Noon, Noon);
        Assert.True(await Acl.AddRoleAsync(sensors, default));
        Assert.True(await Acl.AddRoleAsync(new Role("Admins", null, Noon, Noon), default));
        Assert.True(await Acl.AddRoleAsync(new Role("admins", null, Noon, Noon), default));
        Assert.False(await Acl.AddRoleAsync(sensors with { Description = "other" }, default));

        var reopened = Open().Acl;
        Assert.Equal(sensors, await reopened.FindRoleAsync("sensors", default));
        Assert.Null(await reopened.FindRoleAsync("Sensors", default));
        Assert.Equal(["Admins", "admins", "sensors"], (await reopened.ListRolesAsync(default)).Select(static r => r.Name));

        // A rename keeps the creation time whatever the update says; a taken name and a missing role are told apart.
        var renamed = new Role("devices", null, Noon.AddYears(1), Noon.AddHours(1));
        Assert.Equal(AclStoreResult.Exists, await Acl.UpdateRoleAsync("sensors", renamed with { Name = "admins" }, default));
        Assert.Equal(AclStoreResult.NotFound, await Acl.UpdateRoleAsync("nobody", renamed, default));
        Assert.Equal(AclStoreResult.Done, await Acl.UpdateRoleAsync("sensors", renamed, default));
        Assert.Null(await reopened.FindRoleAsync("sensors", default));
        Assert.Equal(renamed with { CreatedAt = Noon }, await reopened.FindRoleAsync("devices", default));
        Assert.Equal(AclStoreResult.Done, await Acl.UpdateRoleAsync("devices", renamed with { Description = "same name" }, default));
        Assert.Equal("same name", (await reopened.FindRoleAsync("devices", default))!.Description);

        Assert.True(await Acl.DeleteRoleAsync("devices", default));
        Assert.False(await Acl.DeleteRoleAsync("devices", default));
        Assert.Equal(["Admins", "admins"], (await reopened.ListRolesAsync(default)).Select(static r => r.Name));
    }

    [Fact]
    public async Task A_users_roles_are_replaced_all_or_nothing_and_follow_a_rename()
    {
        await AddRolesAsync("operators", "sensors", "trainees");
        Assert.Equal([], await Acl.FindUserRolesAsync("alice", default));
        Assert.Null(await Acl.FindUserRolesAsync("nobody", default));

        Assert.Equal(AclStoreResult.Done, await Acl.SetUserRolesAsync("alice", Set("sensors", "operators"), default));
        Assert.Equal(AclStoreResult.NoSuchUser, await Acl.SetUserRolesAsync("nobody", Set("sensors"), default));
        Assert.Equal(AclStoreResult.NoSuchRole, await Acl.SetUserRolesAsync("alice", Set("trainees", "ghosts"), default));
        Assert.Equal(["operators", "sensors"], await Open().Acl.FindUserRolesAsync("alice", default)); // the refused set changed nothing

        Assert.Equal(AclStoreResult.Done, await Acl.SetUserRolesAsync("alice", Set("trainees"), default));
        Assert.Equal(["trainees"], await Acl.FindUserRolesAsync("alice", default));
        Assert.Equal(AclStoreResult.Done, await Acl.UpdateRoleAsync("trainees", new Role("juniors", null, Noon, Noon), default));
        Assert.Equal(["juniors"], await Acl.FindUserRolesAsync("alice", default));
        Assert.Equal(AclStoreResult.Done, await Acl.SetUserRolesAsync("alice", Set(), default));
        Assert.Equal([], await Acl.FindUserRolesAsync("alice", default));
    }

    [Fact]
    public async Task Rules_are_added_under_new_ids_for_existing_owners_listed_replaced_and_deleted()
    {
        await AddRolesAsync("sensors");
        var forAlice = await AddRuleAsync(new StoredAclRule(0, AclScope.User, "alice", null, true, AclAction.Both, "alice/#", false));
        var forRole = await AddRuleAsync(new StoredAclRule(0, AclScope.Role, null, "sensors", false, AclAction.Publish, "devices/%u/secret", true));
        var forEveryone = await AddRuleAsync(new StoredAclRule(0, AclScope.Everyone, null, null, true, AclAction.Subscribe, "public/+", false));
        Assert.True(forAlice.Id > 0 && forRole.Id > forAlice.Id && forEveryone.Id > forRole.Id);

        Assert.Equal((AclStoreResult.NoSuchUser, null), await Acl.AddRuleAsync(forAlice with { UserName = "nobody" }, default));
        Assert.Equal((AclStoreResult.NoSuchRole, null), await Acl.AddRuleAsync(forRole with { RoleName = "ghosts" }, default));

        var reopened = Open().Acl;
        Assert.Equal([forAlice, forRole, forEveryone], await reopened.ListRulesAsync(default));
        Assert.Equal(forRole, await reopened.FindRuleAsync(forRole.Id, default));
        Assert.Null(await reopened.FindRuleAsync(forEveryone.Id + 100, default));

        // A rule may change its owner, scope, permission, action, filter and pattern.
        var replaced = forAlice with { Scope = AclScope.Role, UserName = null, RoleName = "sensors", Allow = false, Actions = AclAction.Subscribe, Filter = "x/%c", Pattern = true };
        Assert.Equal(AclStoreResult.Done, await Acl.UpdateRuleAsync(replaced, default));
        Assert.Equal(replaced, await reopened.FindRuleAsync(forAlice.Id, default));
        Assert.Equal(AclStoreResult.NoSuchUser, await Acl.UpdateRuleAsync(replaced with { Scope = AclScope.User, UserName = "nobody", RoleName = null }, default));
        Assert.Equal(AclStoreResult.NoSuchRole, await Acl.UpdateRuleAsync(replaced with { RoleName = "ghosts" }, default));
        Assert.Equal(AclStoreResult.NotFound, await Acl.UpdateRuleAsync(replaced with { Id = forEveryone.Id + 100 }, default));
        Assert.Equal(replaced, await reopened.FindRuleAsync(forAlice.Id, default));

        Assert.True(await Acl.DeleteRuleAsync(forAlice.Id, default));
        Assert.False(await Acl.DeleteRuleAsync(forAlice.Id, default));
        Assert.Equal([forRole, forEveryone], await reopened.ListRulesAsync(default));
    }

    [Fact]
    public async Task Deleting_a_user_or_a_role_takes_its_memberships_and_rules_along()
    {
        await AddRolesAsync("sensors", "operators");
        Assert.Equal(AclStoreResult.Done, await Acl.SetUserRolesAsync("alice", Set("sensors", "operators"), default));
        Assert.Equal(AclStoreResult.Done, await Acl.SetUserRolesAsync("bob", Set("sensors"), default));
        var forAlice = await AddRuleAsync(new StoredAclRule(0, AclScope.User, "alice", null, true, AclAction.Both, "alice/#", false));
        var forBob = await AddRuleAsync(new StoredAclRule(0, AclScope.User, "bob", null, true, AclAction.Both, "bob/#", false));
        var forSensors = await AddRuleAsync(new StoredAclRule(0, AclScope.Role, null, "sensors", true, AclAction.Publish, "devices/%u/#", true));
        var forOperators = await AddRuleAsync(new StoredAclRule(0, AclScope.Role, null, "operators", true, AclAction.Both, "plant/#", false));

        Assert.True(await Users.DeleteAsync("alice", default));
        Assert.True(await Acl.DeleteRoleAsync("sensors", default));

        Assert.Equal([forBob, forOperators], await Acl.ListRulesAsync(default));
        Assert.Equal([], await Acl.FindUserRolesAsync("bob", default));

        // A new alice starts with nothing of the old one.
        Assert.True(await Users.AddAsync(new MqttUser("alice", "hash", true, null, Noon, Noon), default));
        Assert.Equal([], await Acl.FindUserRolesAsync("alice", default));
        Assert.DoesNotContain(await Acl.ListRulesAsync(default), r => r.Id == forAlice.Id || r.Id == forSensors.Id);
    }

    [Fact]
    public async Task Loading_gives_the_authorizer_every_rule_the_roles_of_each_user_and_the_superusers()
    {
        await AddRolesAsync("sensors", "operators");
        Assert.Equal(AclStoreResult.Done, await Acl.SetUserRolesAsync("alice", Set("sensors", "operators"), default));
        var forSensors = await AddRuleAsync(new StoredAclRule(0, AclScope.Role, null, "sensors", true, AclAction.Publish, "devices/%u/#", true));
        var forBob = await AddRuleAsync(new StoredAclRule(0, AclScope.User, "bob", null, false, AclAction.Subscribe, "secret/#", false));
        var forEveryone = await AddRuleAsync(new StoredAclRule(0, AclScope.Everyone, null, null, true, AclAction.Both, "public/#", false));

        var (rules, users) = await Open().Acl.LoadAsync(default);

        Assert.Equal([forSensors.ToRule(), forBob.ToRule(), forEveryone.ToRule()], rules);
        Assert.Equal(new AclRule(true, AclAction.Publish, "devices/%u/#", AclScope.Role, null, true, $"role:sensors#{forSensors.Id}", "sensors"), rules[0]);
        Assert.Equal([$"user:bob#{forBob.Id}", $"everyone#{forEveryone.Id}"], rules.Skip(1).Select(static r => r.Source));
        Assert.Equal(["alice"], users.Roles.Keys);
        Assert.Equal(["operators", "sensors"], users.Roles["alice"].Order(StringComparer.Ordinal));
        Assert.Equal(["root"], users.Superusers);

        Assert.True(await Users.UpdateAsync(new MqttUser("root", "hash", true, null, Noon, Noon), default));
        Assert.Empty((await Acl.LoadAsync(default)).Users.Superusers);
    }

    [Fact]
    public async Task Of_role_sets_given_to_a_user_at_once_exactly_one_is_kept_whole()
    {
        await AddRolesAsync("r1", "r2", "r3", "r4");
        IReadOnlySet<string>[] sets = [Set("r1", "r2"), Set("r3"), Set("r2", "r4"), Set("r1", "r3", "r4"), Set()];
        var stores = Enumerable.Range(0, sets.Length).Select(_ => Open().Acl).ToList();

        var results = await Task.WhenAll(sets.Select((set, i) => Task.Run(() => stores[i].SetUserRolesAsync("alice", set, default)))).WaitAsync(Timeout);

        Assert.All(results, static r => Assert.Equal(AclStoreResult.Done, r));
        var held = (await Acl.FindUserRolesAsync("alice", default))!.ToHashSet();
        Assert.Contains(sets, set => set.SetEquals(held));
    }

    private async Task AddRolesAsync(params string[] names)
    {
        foreach (var name in names)
        {
            Assert.True(await Acl.AddRoleAsync(new Role(name, null, Noon, Noon), default));
        }
    }

    private async Task<StoredAclRule> AddRuleAsync(StoredAclRule rule)
    {
        var (result, added) = await Acl.AddRuleAsync(rule, default);
        Assert.Equal(AclStoreResult.Done, result);
        Assert.Equal(rule with { Id = added!.Id }, added);
        return added;
    }

    private static HashSet<string> Set(params string[] roles) => new(roles, StringComparer.Ordinal);
}

public sealed class MemoryAclStoreTests : AclStoreContract
{
    [Fact]
    public void Without_a_database_roles_and_rules_are_in_memory()
    {
        Assert.IsType<MemoryAclStore>(Acl);
    }

    protected override Task<MigratedDatabase?> CreateDatabaseAsync() => Task.FromResult<MigratedDatabase?>(null);
}

public sealed class SqliteAclStoreTests : AclStoreContract
{
    protected override async Task<MigratedDatabase?> CreateDatabaseAsync() => await MigratedDatabase.SqliteAsync();
}

[Collection(PostgresServerGroup.Name)]
public sealed class PostgresAclStoreTests(PostgresServer server) : AclStoreContract
{
    protected override async Task<MigratedDatabase?> CreateDatabaseAsync() => await MigratedDatabase.PostgresAsync(server);
}
