using IoTHub.Broker.Security.Audit;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Roles;
using IoTHub.Broker.Security.Users;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTHub.Broker.Tests.Security.Authorization;

/// <summary>
/// Roles (issue 17 milestone 2) in the access audit (milestone 3): a decision of the roles a user holds is recorded with
/// the role's rule that made it (a deny among them: the deny's), a superuser's as <c>superuser</c>; with
/// <c>RecordAllowed</c> the checks that no rule and an allowing default would skip are made and recorded; subscriptions
/// kept after a change of rules are not recorded, removed ones are.
/// </summary>
public sealed class AclAuditTests
{
    private static readonly AclIdentity Alice = new("alice", "alice-1", null);

    [Fact]
    public async Task A_decision_of_the_roles_a_user_holds_is_recorded_with_the_role_rule_that_made_it()
    {
        var stored = new Stored();
        await stored.AddUserAsync("alice", superuser: false, "operators", "trainees");
        await stored.AddUserAsync("root", superuser: true);
        var operators = await stored.AddRuleAsync(AclScope.Role, "operators", true, AclAction.Both, "plant/#");
        var trainees = await stored.AddRuleAsync(AclScope.Role, "trainees", false, AclAction.Publish, "plant/valves/#");
        var own = await stored.AddRuleAsync(AclScope.User, "alice", true, AclAction.Publish, "plant/valves/practice");
        var log = new CollectedLog();
        await using (var audit = new AccessAudit(log, recordAllowed: true, maxPerSecond: 100, NullLogger.Instance))
        {
            using var authorizer = await stored.AuthorizerAsync(audit);
            var alice = authorizer.ForClient(Alice);
            Assert.False(alice.MayPublish("plant/valves/main")); // the trainees' deny wins over the operators' allow
            Assert.True(alice.MayPublish("plant/lights")); // the operators' allow
            Assert.True(alice.MayPublish("plant/valves/practice")); // her own rule, before her roles
            Assert.False(alice.MaySubscribe("elsewhere/#")); // no rule: the default
            Assert.True(authorizer.ForClient(new AclIdentity("root", "console", null)).MaySubscribe("#")); // never checked
        }

        Assert.Equal(
        [
            ("alice", AccessAuditAction.Publish, "plant/valves/main", AccessAuditResult.Deny, $"role:trainees#{trainees}"),
            ("alice", AccessAuditAction.Publish, "plant/lights", AccessAuditResult.Allow, $"role:operators#{operators}"),
            ("alice", AccessAuditAction.Publish, "plant/valves/practice", AccessAuditResult.Allow, $"user:alice#{own}"),
            ("alice", AccessAuditAction.Subscribe, "elsewhere/#", AccessAuditResult.Deny, AccessAuditEntry.DefaultRule),
            ("root", AccessAuditAction.Subscribe, "#", AccessAuditResult.Allow, "superuser"),
        ], log.Entries.Select(static e => (e.UserName, e.Action!.Value, e.Topic, e.Result, e.Rule)));
    }

    [Fact]
    public async Task Without_rules_an_allowing_default_checks_nothing_unless_allowed_decisions_are_recorded()
    {
        var refusalsOnly = new CollectedLog();
        await using (var audit = new AccessAudit(refusalsOnly, recordAllowed: false, maxPerSecond: 100, NullLogger.Instance))
        {
            using var open = new Authorizer([], defaultAllow: true, disconnectOnDeny: false, NullLogger.Instance) { Audit = audit };
            var client = open.ForClient(Alice);
            Assert.True(client.MayPublish("a") && client.MaySubscribe("#") && client.MayReceive("b"));
            Assert.All(open.Decisions(), static d => Assert.Equal(0, d.Count));
        }

        Assert.Empty(refusalsOnly.Entries);

        var everything = new CollectedLog();
        await using (var audit = new AccessAudit(everything, recordAllowed: true, maxPerSecond: 100, NullLogger.Instance))
        {
            using var open = new Authorizer([], defaultAllow: true, disconnectOnDeny: false, NullLogger.Instance) { Audit = audit };
            var client = open.ForClient(Alice);
            Assert.True(client.MayPublish("a") && client.MaySubscribe("#") && client.MayReceive("b"));
            Assert.Equal([("publish", "allow", 1L), ("subscribe", "allow", 1L)],
                open.Decisions().Where(static d => d.Count > 0).Select(static d => (d.Action, d.Result, d.Count)));
        }

        Assert.Equal([(AccessAuditAction.Publish, "a", "default"), (AccessAuditAction.Subscribe, "#", "default")],
            everything.Entries.Select(static e => (e.Action!.Value, e.Topic, e.Rule)));
    }

    [Fact]
    public async Task A_subscription_checked_again_is_recorded_only_when_it_is_removed()
    {
        var stored = new Stored();
        await stored.AddUserAsync("alice", superuser: false, "readers");
        await stored.AddRuleAsync(AclScope.Role, "readers", true, AclAction.Subscribe, "feeds/#");
        var closed = await stored.AddRuleAsync(AclScope.Role, "readers", false, AclAction.Subscribe, "feeds/closed/#");
        var log = new CollectedLog();
        await using (var audit = new AccessAudit(log, recordAllowed: true, maxPerSecond: 100, NullLogger.Instance))
        {
            using var authorizer = await stored.AuthorizerAsync(audit);
            var alice = authorizer.ForClient(Alice);
            Assert.True(alice.MayKeepSubscription("feeds/open/#"));
            Assert.False(alice.MayKeepSubscription("feeds/closed/x"));
            Assert.Equal([("subscribe", "allow", 1L), ("subscribe", "deny", 1L)],
                authorizer.Decisions().Where(static d => d.Count > 0).Select(static d => (d.Action, d.Result, d.Count)));
        }

        var removed = Assert.Single(log.Entries);
        Assert.Equal((AccessAuditAction.Subscribe, "feeds/closed/x", AccessAuditResult.Deny, $"role:readers#{closed}"),
            (removed.Action!.Value, removed.Topic, removed.Result, removed.Rule));
    }

    /// <summary>Users, roles and rules in a memory store, read by the stored rules' source of an authorizer (default deny).</summary>
    private sealed class Stored
    {
        private readonly MemoryMqttUserStore _users = new();
        private readonly MemoryAclStore _acl;
        private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;

        public Stored() => _acl = new MemoryAclStore(_users);

        public async Task AddUserAsync(string userName, bool superuser, params string[] roles)
        {
            Assert.True(await _users.AddAsync(new MqttUser(userName, "hash", true, null, _now, _now, Superuser: superuser), default));
            foreach (var role in roles)
            {
                await _acl.AddRoleAsync(new Role(role, null, _now, _now), default);
            }

            Assert.Equal(AclStoreResult.Done, await _acl.SetUserRolesAsync(userName, roles.ToHashSet(), default));
        }

        /// <summary>Adds a rule of a user or a role (<paramref name="name"/>) and returns its id.</summary>
        public async Task<int> AddRuleAsync(AclScope scope, string name, bool allow, AclAction actions, string filter)
        {
            var (result, added) = await _acl.AddRuleAsync(new StoredAclRule(0, scope, scope == AclScope.User ? name : null, scope == AclScope.Role ? name : null,
                allow, actions, filter, Pattern: false), default);
            Assert.Equal(AclStoreResult.Done, result);
            return added!.Id;
        }

        public async Task<Authorizer> AuthorizerAsync(AccessAudit audit)
        {
            var source = new StoredAclSource(_acl);
            var authorizer = new Authorizer([source], defaultAllow: false, disconnectOnDeny: false, NullLogger.Instance) { Audit = audit };
            await source.LoadAsync();
            return authorizer;
        }
    }

    private sealed class CollectedLog : IAccessAuditLog
    {
        private readonly List<AccessAuditEntry> _entries = [];

        public IReadOnlyList<AccessAuditEntry> Entries
        {
            get
            {
                lock (_entries)
                {
                    return [.. _entries];
                }
            }
        }

        public Task WriteAsync(IReadOnlyList<AccessAuditEntry> entries, CancellationToken cancellationToken)
        {
            lock (_entries)
            {
                _entries.AddRange(entries);
            }

            return Task.CompletedTask;
        }

        public Task<(IReadOnlyList<AccessAuditEntry> Entries, int Total)> ReadAsync(AccessAuditQuery query, int skip, int take, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<long> PruneAsync(DateTimeOffset olderThan, long keep, CancellationToken cancellationToken) => Task.FromResult(0L); // these tests read everything
    }
}
