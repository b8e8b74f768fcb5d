namespace IoTHub.Broker.Security.Authorization;

/// <summary>What a rule governs. Subscribe also covers receiving: Mosquitto's <c>read</c>; Publish is its <c>write</c>.</summary>
[Flags]
public enum AclAction
{
    Publish = 1,

    /// <summary>Subscribing to a filter and receiving each message delivered through it, retained ones included.</summary>
    Subscribe = 2,

    Both = Publish | Subscribe,
}

/// <summary>
/// Whom a rule is for. A decision asks the most specific scope first: a user (or, for a client without a user name, the
/// anonymous scope), then the roles the user holds, then everyone.
/// </summary>
public enum AclScope
{
    User,

    /// <summary>Clients without a user name (Mosquitto's <c>topic</c> lines before any <c>user</c> line).</summary>
    Anonymous,

    Everyone,

    /// <summary>The users that hold a role (<see cref="AclUsers.Roles"/>).</summary>
    Role,
}

/// <summary>
/// One access rule: allow or deny <see cref="Actions"/> on the topics <see cref="Filter"/> covers, for a user, anonymous
/// clients, a role or everyone. When <see cref="Pattern"/> is set, <c>%u</c> (user name), <c>%c</c> (client id) and
/// <c>${cert_cn}</c> (the client certificate's common name) in the filter stand for the client's own values.
/// </summary>
/// <param name="UserName">The user of a <see cref="AclScope.User"/> rule; null otherwise.</param>
/// <param name="Source">Where the rule comes from, for logs (e.g. <c>/etc/iothub/acl:12</c>).</param>
/// <param name="RoleName">The role of a <see cref="AclScope.Role"/> rule; null otherwise.</param>
/// <param name="Exact">
/// The filter's <c>+</c> and <c>#</c> are plain levels (EMQX's <c>eq</c>): the rule covers a SUBSCRIBE to that very filter
/// only, and no topic name; without placeholders.
/// </param>
public sealed record AclRule(bool Allow, AclAction Actions, string Filter, AclScope Scope, string? UserName = null, bool Pattern = false, string? Source = null,
    string? RoleName = null, bool Exact = false);

/// <summary>What a source says about users beyond rules: the roles each holds, and those whose access is never checked.</summary>
/// <param name="Roles">The roles of each user, by user name (ordinal).</param>
/// <param name="Superusers">User names that may publish and subscribe to anything: no rule and no default applies to them.</param>
public sealed record AclUsers(IReadOnlyDictionary<string, IReadOnlyList<string>> Roles, IReadOnlySet<string> Superusers)
{
    public static AclUsers None { get; } = new(new Dictionary<string, IReadOnlyList<string>>(), new HashSet<string>());
}

/// <summary>
/// Where rules come from: a Mosquitto acl_file, the stored roles and rules of the admin API. <see cref="Changed"/> tells
/// the <see cref="Authorizer"/> to compile <see cref="Rules"/> and <see cref="Users"/> again.
/// </summary>
public interface IAclSource
{
    IReadOnlyList<AclRule> Rules { get; }

    /// <summary>Roles held and superusers; a file has neither.</summary>
    AclUsers Users => AclUsers.None;

    event Action? Changed;
}
