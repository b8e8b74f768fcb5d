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

/// <summary>Whom a rule is for, most specific first: a user (or, for a client without a user name, the anonymous scope), then everyone.</summary>
public enum AclScope
{
    User,

    /// <summary>Clients without a user name (Mosquitto's <c>topic</c> lines before any <c>user</c> line).</summary>
    Anonymous,

    Everyone,
}

/// <summary>
/// One access rule: allow or deny <see cref="Actions"/> on the topics <see cref="Filter"/> covers, for a user, anonymous
/// clients or everyone. When <see cref="Pattern"/> is set, <c>%u</c> (user name), <c>%c</c> (client id) and
/// <c>${cert_cn}</c> (the client certificate's common name) in the filter stand for the client's own values.
/// </summary>
/// <param name="UserName">The user of a <see cref="AclScope.User"/> rule; null otherwise.</param>
/// <param name="Source">Where the rule comes from, for logs (e.g. <c>/etc/iothub/acl:12</c>).</param>
public sealed record AclRule(bool Allow, AclAction Actions, string Filter, AclScope Scope, string? UserName = null, bool Pattern = false, string? Source = null);

/// <summary>
/// Where rules come from: a Mosquitto acl_file today, database roles later. <see cref="Changed"/> tells the
/// <see cref="Authorizer"/> to compile <see cref="Rules"/> again.
/// </summary>
public interface IAclSource
{
    IReadOnlyList<AclRule> Rules { get; }

    event Action? Changed;
}
