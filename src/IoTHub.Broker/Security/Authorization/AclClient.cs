using IoTHub.Broker.Security.Audit;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Security.Authorization;

/// <summary>
/// One connection's view of the <see cref="Authorizer"/>: its identity (user name, client id, certificate common name)
/// and a small cache of decisions by topic. The cache is direct-mapped (a slot per topic hash, a newer topic replaces an
/// older one), so it stays bounded without bookkeeping; a slot holds an immutable entry, so the connection's read loop
/// and the routing threads that deliver to it can use it at once without locks. An entry of an older rule version is a
/// miss. SUBSCRIBE filters are not cached: they are few, and a decision on one is a walk of the trie.
/// </summary>
public sealed class AclClient
{
    /// <summary>Slots of the cache: a device publishes and receives a handful of topics.</summary>
    private const int CacheSlots = 64;

    private readonly Authorizer _authorizer;

    // The rules the client's authenticator gave it: checked even while the rule set checks nothing.
    private readonly AclMatcher? _own;
    private Entry?[]? _cache;

    internal AclClient(Authorizer authorizer, AclIdentity identity, ClientOrigin? origin) =>
        (_authorizer, Identity, Origin, _own) = (authorizer, identity, origin, identity.Rights?.Matcher);

    public AclIdentity Identity { get; }

    /// <summary>Where the client came in, for the audit of its decisions; null when unknown.</summary>
    public ClientOrigin? Origin { get; }

    /// <summary>Whether a refusal closes the connection (Security:DenyAction=Disconnect).</summary>
    public bool DisconnectOnDeny => _authorizer.DisconnectOnDeny;

    /// <summary>The SUBACK code of a refused filter for an MQTT 5.0 client (Security:SubscribeRefusalCode).</summary>
    public ReasonCode SubscribeRefusal => _authorizer.SubscribeRefusal;

    /// <summary>
    /// Whether the client may publish to <paramref name="topic"/> (its PUBLISH, its will). Counted and audited, unless
    /// there is nothing to check (<see cref="Authorizer.ChecksNothing"/>).
    /// </summary>
    public bool MayPublish(string topic)
    {
        var rules = _authorizer.Rules;
        if (_authorizer.ChecksNothing(rules) && _own is null)
        {
            return true;
        }

        var allowed = Cached(rules, AclAction.Publish, topic);
        _authorizer.Decided(this, AccessAuditAction.Publish, topic, allowed);
        return allowed;
    }

    /// <summary>
    /// Whether a message on <paramref name="topic"/> may be delivered to the client. Not counted, and only a refusal is
    /// audited: it runs per delivery. Nothing is refused when there is no rule, the default allows and the client has no rules of its own.
    /// </summary>
    public bool MayReceive(string topic)
    {
        var rules = _authorizer.Rules;
        if (rules.ChecksNothing && _own is null)
        {
            return true;
        }

        var allowed = Cached(rules, AclAction.Subscribe, topic);
        if (!allowed)
        {
            _authorizer.Decided(this, AccessAuditAction.Receive, topic, allowed);
        }

        return allowed;
    }

    /// <summary>
    /// Whether the client may subscribe to <paramref name="filter"/>: a rule must cover all of it. Counted and audited,
    /// unless there is nothing to check (<see cref="Authorizer.ChecksNothing"/>).
    /// </summary>
    public bool MaySubscribe(string filter)
    {
        var rules = _authorizer.Rules;
        if (_authorizer.ChecksNothing(rules) && _own is null)
        {
            return true;
        }

        var allowed = rules.Allows(Identity, AclAction.Subscribe, filter, isFilter: true);
        _authorizer.Decided(this, AccessAuditAction.Subscribe, filter, allowed);
        return allowed;
    }

    /// <summary>
    /// Whether the client may keep its subscription to <paramref name="filter"/> after the rules changed, or when its stored
    /// session is resumed: as <see cref="MaySubscribe"/> (counted), but only a removal is audited, even with
    /// <c>RecordAllowed</c>: else each change of rules would record every kept subscription of every connected client.
    /// </summary>
    public bool MayKeepSubscription(string filter)
    {
        var rules = _authorizer.Rules;
        if (rules.ChecksNothing && _own is null)
        {
            return true;
        }

        var allowed = rules.Allows(Identity, AclAction.Subscribe, filter, isFilter: true);
        _authorizer.Decided(this, AccessAuditAction.Subscribe, filter, allowed, auditAllowed: false);
        return allowed;
    }

    /// <summary>The rule behind a decision on <paramref name="topic"/> (a filter for Subscribe), for the audit; null when the default decided.</summary>
    internal AclRule? DecidingRule(AccessAuditAction action, string topic) =>
        _authorizer.Rules.DecidingRule(Identity, action == AccessAuditAction.Publish ? AclAction.Publish : AclAction.Subscribe, topic,
            isFilter: action == AccessAuditAction.Subscribe);

    private bool Cached(AclRuleSet rules, AclAction action, string topic)
    {
        var cache = _cache ??= new Entry?[CacheSlots];
        var slot = (topic.GetHashCode() ^ (int)action) & (CacheSlots - 1);
        if (Volatile.Read(ref cache[slot]) is { } entry && entry.Version == rules.Version && entry.Action == action && string.Equals(entry.Topic, topic, StringComparison.Ordinal))
        {
            return entry.Allowed;
        }

        var allowed = rules.Allows(Identity, action, topic, isFilter: false);
        Volatile.Write(ref cache[slot], new Entry(topic, action, rules.Version, allowed));
        return allowed;
    }

    private sealed record Entry(string Topic, AclAction Action, long Version, bool Allowed);
}
