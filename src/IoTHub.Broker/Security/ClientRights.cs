using IoTHub.Broker.Security.Authorization;

namespace IoTHub.Broker.Security;

/// <summary>
/// What an authenticator says an accepted client may do, beyond its user name, for as long as the connection lasts:
/// roles whose access rules apply to it (a directory's groups, a token's claim), whether it is a superuser (a webhook's
/// <c>is_superuser</c>), access rules of its own (a webhook's or a token's <c>acl</c>), and when its credentials stop
/// being valid (a token's <c>exp</c>). The access rules read them together with what they hold for the user name (see
/// <see cref="AclRuleSet"/>).
/// </summary>
/// <param name="Roles">Role names, looked up like the roles an access-rule source gives a user; an unknown role grants nothing.</param>
public sealed record ClientRights(IReadOnlyList<string> Roles, bool Superuser)
{
    private readonly IReadOnlyList<AclRule> _rules = [];

    /// <summary>
    /// The client's own access rules, decided before any other (its own scope): compiled once, when they are set, and
    /// shared by every connection a cached decision lets in. They do not change for the connection's life.
    /// </summary>
    public IReadOnlyList<AclRule> Rules
    {
        get => _rules;
        init => (_rules, Matcher) = (value, value.Count == 0 ? null : AclMatcher.Of(value));
    }

    /// <summary><see cref="Rules"/> compiled; null without rules.</summary>
    internal AclMatcher? Matcher { get; private init; }

    /// <summary>When the client's credentials expire (a token's <c>exp</c>): the connection is closed then (5.0: DISCONNECT 0xA0); null: never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>An authenticator's <see cref="AuthenticationResult"/>, and for an <see cref="AuthenticationResult.Allow"/> the client's rights, if it gives any.</summary>
public readonly record struct AuthenticationAnswer(AuthenticationResult Result, ClientRights? Rights = null)
{
    public static implicit operator AuthenticationAnswer(AuthenticationResult result) => new(result);
}
