using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Roles;
using IoTHub.Broker.Security.Users;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTHub.Broker.Tests.Security.Authorization;

/// <summary>
/// Roles and superusers in the compiled rules (issue 17 milestone 2): a role's rules apply to its members, between the
/// user's own rules and everyone's; within the roles a user holds a deny wins; a superuser is never checked. Checked by
/// hand and against <see cref="ReferenceAcl"/> on random rules, memberships and topics; and the stored rules as a source
/// of the <see cref="Authorizer"/>, whose changes reach a client's cached decisions at once.
/// </summary>
public sealed class AclRoleTests
{
    private static readonly AclIdentity Alice = new("alice", "alice-1", null);
    private static readonly AclIdentity Bob = new("bob", "bob-1", null);

    [Fact]
    public void A_role_grants_and_denies_its_members_only()
    {
        AclRule[] rules =
        [
            RoleRule(true, AclAction.Both, "devices/%u/#", "sensors", pattern: true),
            RoleRule(true, AclAction.Subscribe, "config/#", "sensors"),
            RoleRule(false, AclAction.Subscribe, "config/secret/#", "sensors"),
        ];
        var set = new AclRuleSet(rules, defaultAllow: false, 1, Holding(("alice", ["sensors"])));

        Assert.True(set.Allows(Alice, AclAction.Publish, "devices/alice/t", false));
        Assert.False(set.Allows(Alice, AclAction.Publish, "devices/bob/t", false)); // %u is alice's own name
        Assert.True(set.Allows(Alice, AclAction.Subscribe, "config/+", true));
        Assert.False(set.Allows(Alice, AclAction.Subscribe, "config/secret/keys", false)); // the role's deny wins over its allow
        Assert.False(set.Allows(Alice, AclAction.Publish, "config/x", false)); // subscribe only

        // bob holds no role: the default decides.
        Assert.False(set.Allows(Bob, AclAction.Publish, "devices/bob/t", false));
        Assert.False(set.Allows(Bob, AclAction.Subscribe, "config/a", false));
        Assert.False(set.Allows(new AclIdentity(null, "anonymous", null), AclAction.Subscribe, "config/a", false));
    }

    [Fact]
    public void A_user_rule_beats_a_role_rule_and_a_role_rule_beats_everyone()
    {
        AclRule[] rules =
        [
            new(true, AclAction.Both, "#", AclScope.Everyone),
            new(false, AclAction.Both, "plant/#", AclScope.Everyone),
            RoleRule(true, AclAction.Publish, "plant/line-1/#", "operators"),
            RoleRule(false, AclAction.Publish, "plant/line-1/safety", "operators"),
            new(true, AclAction.Publish, "plant/line-1/safety", AclScope.User, "alice"),
            new(false, AclAction.Publish, "plant/line-1/lights", AclScope.User, "alice"),
        ];
        var set = new AclRuleSet(rules, defaultAllow: false, 1, Holding(("alice", ["operators"]), ("bob", ["operators"])));

        Assert.True(set.Allows(Alice, AclAction.Publish, "plant/line-1/safety", false)); // her allow beats the role's deny
        Assert.False(set.Allows(Alice, AclAction.Publish, "plant/line-1/lights", false)); // her deny beats the role's allow
        Assert.False(set.Allows(Bob, AclAction.Publish, "plant/line-1/safety", false)); // the role's deny
        Assert.True(set.Allows(Bob, AclAction.Publish, "plant/line-1/speed", false)); // the role's allow beats everyone's deny
        Assert.False(set.Allows(Bob, AclAction.Publish, "plant/line-2/speed", false)); // the role says nothing: everyone's deny
        Assert.True(set.Allows(Bob, AclAction.Subscribe, "weather/today", false)); // nor here: everyone's allow
    }

    [Fact]
    public void Among_the_roles_a_user_holds_a_deny_of_one_wins_over_an_allow_of_another()
    {
        AclRule[] rules =
        [
            RoleRule(true, AclAction.Both, "plant/#", "operators"),
            RoleRule(false, AclAction.Publish, "plant/valves/#", "trainees"),
        ];
        var set = new AclRuleSet(rules, defaultAllow: false, 1, Holding(("alice", ["operators", "trainees"]), ("bob", ["operators"])));

        Assert.False(set.Allows(Alice, AclAction.Publish, "plant/valves/3", false));
        Assert.True(set.Allows(Alice, AclAction.Subscribe, "plant/valves/3", false)); // trainees deny publishing only
        Assert.True(set.Allows(Bob, AclAction.Publish, "plant/valves/3", false));
    }

    [Fact]
    public void A_superuser_is_allowed_everything_whatever_rules_and_default_say()
    {
        AclRule[] rules =
        [
            new(false, AclAction.Both, "#", AclScope.User, "root"),
            RoleRule(false, AclAction.Both, "#", "nobody"),
            new(false, AclAction.Both, "#", AclScope.Everyone),
        ];
        var users = new AclUsers(new Dictionary<string, IReadOnlyList<string>> { ["root"] = ["nobody"] }, new HashSet<string> { "root" });
        var set = new AclRuleSet(rules, defaultAllow: false, 1, users);
        var root = new AclIdentity("root", "console", null);

        Assert.True(set.Allows(root, AclAction.Publish, "anything/at/all", false));
        Assert.True(set.Allows(root, AclAction.Subscribe, "#", true));
        Assert.True(set.Allows(root, AclAction.Subscribe, "$SYS/broker/uptime", false));
        Assert.False(set.Allows(Alice, AclAction.Subscribe, "#", true));
    }

    [Fact]
    public void Roles_and_the_superuser_flag_an_authenticator_grants_count_as_the_users_own()
    {
        AclRule[] rules =
        [
            RoleRule(true, AclAction.Publish, "plant/#", "operators"),
            RoleRule(false, AclAction.Publish, "plant/valves/#", "trainees"),
            new(false, AclAction.Both, "#", AclScope.User, "root"),
        ];
        var set = new AclRuleSet(rules, defaultAllow: false, 1, Holding(("alice", ["trainees"])));
        var granted = Alice with { Rights = new ClientRights(["operators", "no-such-role"], Superuser: false) };

        Assert.True(set.Allows(granted, AclAction.Publish, "plant/speed", false)); // the granted role
        Assert.False(set.Allows(granted, AclAction.Publish, "plant/valves/3", false)); // her stored role's deny: one scope with the granted one
        Assert.False(set.Allows(Alice, AclAction.Publish, "plant/speed", false)); // the same user without the grant
        Assert.False(set.Allows(granted, AclAction.Subscribe, "plant/speed", false)); // the role allows publishing only
        Assert.True(set.Allows(new AclIdentity(null, "device-1", null, granted.Rights), AclAction.Publish, "plant/speed", false)); // a client without a user name

        var root = new AclIdentity("root", "console", null, new ClientRights([], Superuser: true));
        Assert.True(set.Allows(root, AclAction.Subscribe, "#", true)); // its own deny is not looked at
        Assert.Same(AclRuleSet.Superuser, set.DecidingRule(root, AclAction.Publish, "plant/valves/3", false));
        Assert.False(set.Allows(root with { Rights = null }, AclAction.Subscribe, "#", true));
    }

    [Fact]
    public void The_compiled_roles_and_a_plain_list_scan_agree_on_random_rules_memberships_and_topics()
    {
        const int Seed = 4242;
        var random = new Random(Seed);
        string[] levels = ["a", "b", "+", "#", "%u"];
        string[] topicLevels = ["a", "b", "alice", "bob", "+", "#"];
        string[] roleNames = ["r1", "r2", "r3"];
        AclIdentity[] who = [Alice, Bob, new("carol", "c-1", null), new(null, "anonymous", null)];
        var cases = 0;
        var allowedCases = 0;
        for (var round = 0; round < 300; round++)
        {
            var rules = new List<AclRule>();
            for (var n = random.Next(1, 25); n > 0; n--)
            {
                var filter = AclMatcherTests.RandomFilter(random, levels);
                var scope = (AclScope)random.Next(4);
                rules.Add(new AclRule(random.Next(3) > 0, (AclAction)random.Next(1, 4), filter, scope,
                    scope == AclScope.User ? (random.Next(2) == 0 ? "alice" : "bob") : null, Pattern: random.Next(2) == 0,
                    RoleName: scope == AclScope.Role ? roleNames[random.Next(roleNames.Length)] : null));
            }

            var roles = new Dictionary<string, IReadOnlyList<string>>();
            foreach (var user in new[] { "alice", "bob", "carol" })
            {
                roles[user] = [.. roleNames.Where(_ => random.Next(2) == 0)];
            }

            var users = new AclUsers(roles, random.Next(5) == 0 ? new HashSet<string> { "bob" } : new HashSet<string>());
            var defaultAllow = random.Next(2) == 0;
            var set = new AclRuleSet(rules, defaultAllow, 1, users);
            for (var probe = 0; probe < 100; probe++)
            {
                var identity = who[random.Next(who.Length)];
                var topic = AclMatcherTests.RandomFilter(random, topicLevels);
                var isFilter = topic.Contains('+') || topic.Contains('#');
                var action = isFilter ? AclAction.Subscribe : (AclAction)random.Next(1, 3);
                var expected = ReferenceAcl.Allows(rules, defaultAllow, identity, action, topic, users);
                var context = $"seed {Seed} round {round}: {identity} {action} '{topic}' with rules:\n{string.Join('\n', rules)}\nroles: " +
                    string.Join("; ", roles.Select(static r => $"{r.Key}: {string.Join(',', r.Value)}"));
                Assert.True(expected == set.Allows(identity, action, topic, isFilter), context);

                // The rule the audit names made that decision, and applies to that client; none: the default made it.
                var deciding = set.DecidingRule(identity, action, topic, isFilter);
                Assert.True(deciding is null ? expected == defaultAllow : deciding.Allow == expected && (deciding.Actions & action) != 0, context + $"\ndeciding: {deciding}");
                Assert.True(deciding is null || deciding == AclRuleSet.Superuser ? true : deciding.Scope switch
                {
                    AclScope.User => deciding.UserName == identity.UserName,
                    AclScope.Role => identity.UserName is { } name && roles[name].Contains(deciding.RoleName!),
                    AclScope.Anonymous => identity.UserName is null,
                    _ => true,
                }, context + $"\ndeciding: {deciding}");
                Assert.True((deciding == AclRuleSet.Superuser) == (identity.UserName is { } u && users.Superusers.Contains(u)), context);
                cases++;
                allowedCases += expected ? 1 : 0;
            }
        }

        Assert.InRange(allowedCases, cases / 10, cases - (cases / 10));
    }

    [Fact]
    public async Task A_stored_change_reaches_a_clients_cached_decisions_and_says_the_rules_changed()
    {
        var users = new MemoryMqttUserStore();
        var store = new MemoryAclStore(users);
        var now = DateTimeOffset.UtcNow;
        Assert.True(await users.AddAsync(new MqttUser("alice", "hash", true, null, now, now), default));
        Assert.True(await store.AddRoleAsync(new Role("sensors", null, now, now), default));
        Assert.Equal(AclStoreResult.Done, (await store.AddRuleAsync(new StoredAclRule(0, AclScope.Role, null, "sensors", true, AclAction.Publish, "devices/%u/#", true), default)).Result);
        using var source = new StoredAclSource(store);
        using var authorizer = new Authorizer([source], defaultAllow: false, disconnectOnDeny: false, NullLogger.Instance);
        var changes = 0;
        authorizer.RulesChanged += () => changes++;
        await source.LoadAsync();
        var client = authorizer.ForClient(Alice);

        Assert.False(client.MayPublish("devices/alice/t")); // she does not hold the role yet: cached as a refusal

        Assert.Equal(AclStoreResult.Done, await store.SetUserRolesAsync("alice", new HashSet<string> { "sensors" }, default));
        await source.LoadAsync();
        Assert.True(client.MayPublish("devices/alice/t"));

        Assert.True(await users.UpdateAsync(new MqttUser("alice", "hash", true, null, now, now, Superuser: true), default));
        await source.LoadAsync();
        Assert.True(client.MayPublish("elsewhere"));

        Assert.True(await users.DeleteAsync("alice", default)); // with her roles
        await source.LoadAsync();
        Assert.False(client.MayPublish("devices/alice/t"));
        Assert.False(client.MayPublish("elsewhere"));
        Assert.Equal(4, changes);
        Assert.Equal(5, authorizer.Version);
    }

    [Fact]
    public void Without_rules_and_with_a_default_that_allows_nothing_is_checked_or_counted()
    {
        using var open = new Authorizer([], defaultAllow: true, disconnectOnDeny: false, NullLogger.Instance);
        var client = open.ForClient(Alice);
        Assert.True(client.MayPublish("a") && client.MaySubscribe("#") && client.MayReceive("b"));
        Assert.All(open.Decisions(), static d => Assert.Equal(0, d.Count));

        using var closed = new Authorizer([], defaultAllow: false, disconnectOnDeny: false, NullLogger.Instance);
        Assert.False(closed.ForClient(Alice).MayPublish("a"));
        Assert.Equal(1, closed.Decisions().Single(static d => d is { Action: "publish", Result: "deny" }).Count);
    }

    private static AclRule RoleRule(bool allow, AclAction actions, string filter, string role, bool pattern = false) =>
        new(allow, actions, filter, AclScope.Role, Pattern: pattern, RoleName: role);

    private static AclUsers Holding(params (string User, string[] Roles)[] memberships) =>
        new(memberships.ToDictionary(static m => m.User, static m => (IReadOnlyList<string>)m.Roles), new HashSet<string>());
}
