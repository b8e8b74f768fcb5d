namespace IoTHub.Broker.Security.Authorization;

/// <summary>
/// Every rule of the sources compiled once: one <see cref="AclMatcher"/> per user, per role, one for anonymous clients,
/// one for everyone. A decision looks at the client's own scope first (its user's rules, or the anonymous ones), then,
/// for a user, at the rules of the roles it holds together, then at everyone's: the first scope with a rule about the
/// action on that topic decides, and within it a matching deny wins over a matching allow. When no rule speaks, the
/// default decides. A superuser is allowed everything without a look at any rule. What its authenticator granted a client
/// (<see cref="AclIdentity.Rights"/>) comes first: a granted superuser flag, then the client's own rules (a scope of their
/// own, compiled with the grant); its granted roles count as its user's. Immutable: a change of rules, roles or
/// superusers makes a new set with a higher version.
/// </summary>
internal sealed class AclRuleSet
{
    private readonly Dictionary<string, UserRules> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AclMatcher> _roles = new(StringComparer.Ordinal);
    private readonly AclMatcher _anonymous = new();
    private readonly AclMatcher _everyone = new();

    public AclRuleSet(IEnumerable<AclRule> rules, bool defaultAllow, long version, AclUsers? users = null)
    {
        DefaultAllow = defaultAllow;
        Version = version;
        foreach (var rule in rules)
        {
            var matcher = rule.Scope switch
            {
                AclScope.User => ForUser(rule.UserName!).Own ??= new AclMatcher(),
                AclScope.Role => _roles.TryGetValue(rule.RoleName!, out var role) ? role : _roles[rule.RoleName!] = new AclMatcher(),
                AclScope.Anonymous => _anonymous,
                _ => _everyone,
            };
            matcher.Add(rule);
            RuleCount++;
        }

        users ??= AclUsers.None;
        foreach (var (user, held) in users.Roles)
        {
            if (WithRoles([], held) is { Length: > 0 } matchers)
            {
                ForUser(user).Roles = matchers;
            }
        }

        foreach (var user in users.Superusers)
        {
            ForUser(user).Superuser = true;
        }
    }

    public bool DefaultAllow { get; }

    /// <summary>Bumped by each change; a cached decision of another version is stale.</summary>
    public long Version { get; }

    public int RuleCount { get; }

    /// <summary>No rule at all and a default that allows: every check would say yes, so none needs to be made.</summary>
    public bool ChecksNothing => RuleCount == 0 && DefaultAllow;

    /// <summary>Whether <paramref name="identity"/> may do <paramref name="action"/> on a topic, or (<paramref name="isFilter"/>) subscribe to a filter.</summary>
    public bool Allows(AclIdentity identity, AclAction action, string topic, bool isFilter) => Decide(identity, action, topic, isFilter, out _);

    /// <summary>
    /// The rule that made <see cref="Allows"/>' decision for the same arguments, for the audit: a rule of the scope that
    /// decided (for the roles a user holds, of the role whose rule decided), <see cref="Superuser"/> for a superuser; null
    /// when the default made it.
    /// </summary>
    public AclRule? DecidingRule(AclIdentity identity, AclAction action, string topic, bool isFilter)
    {
        var allowed = Decide(identity, action, topic, isFilter, out var decidedBy);
        if (decidedBy.Superuser)
        {
            return Superuser;
        }

        var grant = AclMatcher.Grant(action, allowed);
        if (decidedBy.Scope is { } scope)
        {
            return scope.RuleBehind(grant, topic, isFilter, identity);
        }

        foreach (var role in decidedBy.Roles ?? [])
        {
            if (role.RuleBehind(grant, topic, isFilter, identity) is { } rule)
            {
                return rule;
            }
        }

        return null;
    }

    /// <summary>What a superuser's decisions are audited as: no rule is looked at, the flag allows everything.</summary>
    public static AclRule Superuser { get; } = new(true, AclAction.Both, "#", AclScope.User, Source: "superuser");

    /// <param name="decidedBy">The scope whose rules decided; none of its members set: no rule spoke, the default decided.</param>
    private bool Decide(AclIdentity identity, AclAction action, string topic, bool isFilter, out DecidedBy decidedBy)
    {
        if (identity.Rights is { } granted)
        {
            if (granted.Superuser)
            {
                decidedBy = new DecidedBy(null, null, Superuser: true);
                return true;
            }

            if (granted.Matcher is { } client && Decide(client.Match(topic, isFilter, identity), action) is { } byClient)
            {
                decidedBy = new DecidedBy(client, null, Superuser: false);
                return byClient;
            }
        }

        var roles = Array.Empty<AclMatcher>();
        if (identity.UserName is not { } user)
        {
            if (Decide(_anonymous.Match(topic, isFilter, identity), action) is { } anonymous)
            {
                decidedBy = new DecidedBy(_anonymous, null, Superuser: false);
                return anonymous;
            }
        }
        else if (_users.GetValueOrDefault(user) is { } own)
        {
            if (own.Superuser)
            {
                decidedBy = new DecidedBy(null, null, Superuser: true);
                return true;
            }

            if (own.Own is { } rules && Decide(rules.Match(topic, isFilter, identity), action) is { } decided)
            {
                decidedBy = new DecidedBy(rules, null, Superuser: false);
                return decided;
            }

            roles = own.Roles;
        }

        if (identity.Rights is { Roles.Count: > 0 } rights)
        {
            roles = WithRoles(roles, rights.Roles);
        }

        if (roles.Length > 0 && Decide(MatchRoles(roles, topic, isFilter, identity), action) is { } byRole)
        {
            decidedBy = new DecidedBy(null, roles, Superuser: false);
            return byRole;
        }

        if (Decide(_everyone.Match(topic, isFilter, identity), action) is { } everyone)
        {
            decidedBy = new DecidedBy(_everyone, null, Superuser: false);
            return everyone;
        }

        decidedBy = default;
        return DefaultAllow;
    }

    /// <summary>The rules of the roles <paramref name="held"/>, with those of the roles <paramref name="names"/> that have rules, each once.</summary>
    private AclMatcher[] WithRoles(AclMatcher[] held, IEnumerable<string> names)
    {
        List<AclMatcher> matchers = [.. held];
        foreach (var role in names)
        {
            if (_roles.TryGetValue(role, out var matcher) && !matchers.Contains(matcher))
            {
                matchers.Add(matcher);
            }
        }

        return matchers.Count == held.Length ? held : [.. matchers];
    }

    /// <summary>The roles a user holds are one scope: a deny of any of them wins over an allow of another.</summary>
    private static AclMatcher.Grants MatchRoles(AclMatcher[] roles, string topic, bool isFilter, AclIdentity identity)
    {
        var grants = AclMatcher.Grants.None;
        foreach (var role in roles)
        {
            grants |= role.Match(topic, isFilter, identity);
        }

        return grants;
    }

    private static bool? Decide(AclMatcher.Grants grants, AclAction action) =>
        (grants & AclMatcher.Grant(action, allowed: false)) != 0 ? false : (grants & AclMatcher.Grant(action, allowed: true)) != 0 ? true : null;

    private UserRules ForUser(string user) => _users.TryGetValue(user, out var rules) ? rules : _users[user] = new UserRules();

    /// <summary>What applies to one user name: its own rules, the rules of the roles it holds (those that have any), whether it is a superuser.</summary>
    private sealed class UserRules
    {
        public AclMatcher? Own;
        public AclMatcher[] Roles = [];
        public bool Superuser;
    }

    /// <summary>Who made a decision: one scope's rules, the rules of the roles a user holds, or the superuser flag; default: the default.</summary>
    private readonly record struct DecidedBy(AclMatcher? Scope, AclMatcher[]? Roles, bool Superuser);
}
