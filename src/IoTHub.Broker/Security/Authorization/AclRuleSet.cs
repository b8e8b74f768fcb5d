namespace IoTHub.Broker.Security.Authorization;

/// <summary>
/// Every rule of the sources compiled once: one <see cref="AclMatcher"/> per user, one for anonymous clients, one for
/// everyone. A decision looks at the client's own scope first (its user's rules, or the anonymous ones) and, when no
/// rule there speaks about the action on that topic, at everyone's; within a scope a matching deny wins over a matching
/// allow. When no rule speaks, the default decides. Immutable: a change of rules makes a new set with a higher version.
/// </summary>
internal sealed class AclRuleSet
{
    private readonly Dictionary<string, AclMatcher> _users = new(StringComparer.Ordinal);
    private readonly AclMatcher _anonymous = new();
    private readonly AclMatcher _everyone = new();

    public AclRuleSet(IEnumerable<AclRule> rules, bool defaultAllow, long version)
    {
        DefaultAllow = defaultAllow;
        Version = version;
        foreach (var rule in rules)
        {
            var matcher = rule.Scope switch
            {
                AclScope.User => _users.TryGetValue(rule.UserName!, out var user) ? user : _users[rule.UserName!] = new AclMatcher(),
                AclScope.Anonymous => _anonymous,
                _ => _everyone,
            };
            matcher.Add(rule);
            RuleCount++;
        }
    }

    public bool DefaultAllow { get; }

    /// <summary>Bumped by each change; a cached decision of another version is stale.</summary>
    public long Version { get; }

    public int RuleCount { get; }

    /// <summary>Whether <paramref name="identity"/> may do <paramref name="action"/> on a topic, or (<paramref name="isFilter"/>) subscribe to a filter.</summary>
    public bool Allows(AclIdentity identity, AclAction action, string topic, bool isFilter) => Decide(identity, action, topic, isFilter, out _);

    /// <summary>The rule that made <see cref="Allows"/>' decision for the same arguments, for the audit; null when the default made it.</summary>
    public AclRule? DecidingRule(AclIdentity identity, AclAction action, string topic, bool isFilter)
    {
        var allowed = Decide(identity, action, topic, isFilter, out var decidedBy);
        return decidedBy?.RuleBehind(AclMatcher.Grant(action, allowed), topic, isFilter, identity);
    }

    /// <param name="decidedBy">The scope whose rules decided; null: none spoke, the default decided.</param>
    private bool Decide(AclIdentity identity, AclAction action, string topic, bool isFilter, out AclMatcher? decidedBy)
    {
        var own = identity.UserName is { } user ? _users.GetValueOrDefault(user) : _anonymous;
        if (own is not null && Decide(own.Match(topic, isFilter, identity), action) is { } decided)
        {
            decidedBy = own;
            return decided;
        }

        decidedBy = _everyone;
        if (Decide(_everyone.Match(topic, isFilter, identity), action) is { } everyone)
        {
            return everyone;
        }

        decidedBy = null;
        return DefaultAllow;
    }

    private static bool? Decide(AclMatcher.Grants grants, AclAction action) =>
        (grants & AclMatcher.Grant(action, allowed: false)) != 0 ? false : (grants & AclMatcher.Grant(action, allowed: true)) != 0 ? true : null;
}
