using IoTHub.Broker.Security.Authorization;

namespace IoTHub.Broker.Tests.Security.Authorization;

/// <summary>
/// A plain evaluator of access rules, written apart from the compiled trie: a list scan over every rule, placeholders
/// expanded into strings, filters compared level by level; superusers first, then the user's (or anonymous) rules, the
/// rules of the roles it holds, everyone's. Slow and obvious, so the trie can be checked against it.
/// </summary>
internal static class ReferenceAcl
{
    public static bool Allows(IReadOnlyList<AclRule> rules, bool defaultAllow, AclIdentity who, AclAction action, string topicOrFilter, AclUsers? users = null)
    {
        users ??= AclUsers.None;
        if (who.UserName is { } user && users.Superusers.Contains(user))
        {
            return true;
        }

        var ownScope = who.UserName is null ? AclScope.Anonymous : AclScope.User;
        var held = who.UserName is { } name && users.Roles.TryGetValue(name, out var roles) ? roles : [];
        return Decide(rules, who, action, topicOrFilter, rule => rule.Scope == ownScope && (ownScope == AclScope.Anonymous || rule.UserName == who.UserName))
            ?? Decide(rules, who, action, topicOrFilter, rule => rule.Scope == AclScope.Role && held.Contains(rule.RoleName!))
            ?? Decide(rules, who, action, topicOrFilter, rule => rule.Scope == AclScope.Everyone)
            ?? defaultAllow;
    }

    /// <summary>Whether every topic <paramref name="filter"/> matches is matched by <paramref name="rule"/>, for filters and topics alike.</summary>
    public static bool Covers(string rule, string filter)
    {
        var r = rule.Split('/');
        var f = filter.Split('/');
        if (filter.StartsWith('$') && (r[0] == "+" || r[0] == "#"))
        {
            return false;
        }

        if (filter == "#" && rule == "+/#")
        {
            // Every topic has a first level.
            return true;
        }

        for (var i = 0; ; i++)
        {
            if (i < r.Length && r[i] == "#")
            {
                return true;
            }

            if (i == r.Length || i == f.Length)
            {
                return i == r.Length && i == f.Length;
            }

            var ok = r[i] == "+" ? f[i] != "#" : r[i] == f[i] && f[i] != "+" && f[i] != "#";
            if (!ok)
            {
                return false;
            }
        }
    }

    private static bool? Decide(IReadOnlyList<AclRule> rules, AclIdentity who, AclAction action, string topic, Func<AclRule, bool> inScope)
    {
        bool allowed = false, denied = false;
        foreach (var rule in rules)
        {
            if (!inScope(rule) || (rule.Actions & action) == 0 || Expand(rule, who) is not { } filter || !Covers(filter, topic))
            {
                continue;
            }

            allowed |= rule.Allow;
            denied |= !rule.Allow;
        }

        return denied ? false : allowed ? true : null;
    }

    private static string? Expand(AclRule rule, AclIdentity who)
    {
        if (!rule.Pattern)
        {
            return rule.Filter;
        }

        var levels = rule.Filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            foreach (var (token, value) in new[] { ("%u", who.UserName), ("%c", who.ClientId), ("${cert_cn}", who.CertificateCommonName) })
            {
                if (!level.Contains(token, StringComparison.Ordinal))
                {
                    continue;
                }

                if (value is null || value.IndexOfAny(['/', '+', '#']) >= 0)
                {
                    return null;
                }

                level = level.Replace(token, value, StringComparison.Ordinal);
            }

            levels[i] = level;
        }

        return string.Join('/', levels);
    }
}
