using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Authorization;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTHub.Broker.Tests.Security.Authorization;

/// <summary>
/// Issue 18: access rules an authenticator gives one client (<see cref="ClientRights.Rules"/>, a webhook's or a token's
/// <c>acl</c>) are compiled once with the grant and decided first, before the user's own stored rules; they apply while
/// no other rule exists and the default allows (when nothing else is checked), and exact (<c>eq</c>) rules cover only
/// their very filter.
/// </summary>
public sealed class AclClientRulesTests
{
    private static readonly AclIdentity Alice = new("alice", "alice-1", null);

    [Fact]
    public void The_clients_own_rules_are_decided_before_its_users_rules()
    {
        AclRule[] stored =
        [
            new(true, AclAction.Both, "plant/#", AclScope.User, "alice"),
            new(false, AclAction.Publish, "office/#", AclScope.User, "alice"),
        ];
        var set = new AclRuleSet(stored, defaultAllow: false, 1);
        var granted = Alice with { Rights = Granted(Rule(false, AclAction.Publish, "plant/valves/#"), Rule(true, AclAction.Publish, "office/%c/#", pattern: true)) };

        Assert.False(set.Allows(granted, AclAction.Publish, "plant/valves/3", false)); // its deny beats the user's allow
        Assert.True(set.Allows(granted, AclAction.Publish, "office/alice-1/lights", false)); // its allow beats the user's deny, %c its client id
        Assert.False(set.Allows(granted, AclAction.Publish, "office/alice-2/lights", false));
        Assert.True(set.Allows(granted, AclAction.Subscribe, "plant/valves/3", false)); // no own rule about subscribing: the user's
        Assert.True(set.Allows(Alice, AclAction.Publish, "plant/valves/3", false)); // the user without the grant
        Assert.Equal("acl plant/valves/#", set.DecidingRule(granted, AclAction.Publish, "plant/valves/3", false)?.Source);
    }

    [Fact]
    public void The_clients_own_rules_are_checked_while_nothing_else_is()
    {
        using var authorizer = new Authorizer([], defaultAllow: true, disconnectOnDeny: false, NullLogger.Instance);
        var granted = authorizer.ForClient(Alice with { Rights = Granted(Rule(false, AclAction.Both, "secret/#")) });
        var plain = authorizer.ForClient(Alice);

        Assert.False(granted.MayPublish("secret/a"));
        Assert.False(granted.MayReceive("secret/a"));
        Assert.False(granted.MaySubscribe("secret/#"));
        Assert.False(granted.MayKeepSubscription("secret/#"));
        Assert.True(granted.MayPublish("open/a")); // no rule speaks: the default allows
        Assert.True(plain.MayPublish("secret/a") && plain.MayReceive("secret/a") && plain.MaySubscribe("secret/#"));
    }

    [Fact]
    public void An_exact_rule_covers_its_very_filter_only()
    {
        var set = new AclRuleSet([], defaultAllow: false, 1);
        var granted = Alice with { Rights = Granted(Rule(true, AclAction.Subscribe, "devices/+/status", exact: true), Rule(true, AclAction.Subscribe, "all/#", exact: true)) };

        Assert.True(set.Allows(granted, AclAction.Subscribe, "devices/+/status", true));
        Assert.False(set.Allows(granted, AclAction.Subscribe, "devices/d1/status", true));
        Assert.False(set.Allows(granted, AclAction.Subscribe, "devices/d1/status", false)); // a topic name is never "+"
        Assert.True(set.Allows(granted, AclAction.Subscribe, "all/#", true));
        Assert.False(set.Allows(granted, AclAction.Subscribe, "all/x", true));
        Assert.False(set.Allows(granted, AclAction.Subscribe, "all", false));
    }

    private static ClientRights Granted(params AclRule[] rules) => new([], Superuser: false) { Rules = rules };

    private static AclRule Rule(bool allow, AclAction action, string filter, bool pattern = false, bool exact = false) =>
        new(allow, action, filter, AclScope.User, "alice", pattern, Source: "acl " + filter, Exact: exact);
}
