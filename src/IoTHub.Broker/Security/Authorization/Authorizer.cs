using IoTHub.Broker.Security.Audit;
using IoTHub.Mqtt;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Security.Authorization;

/// <summary>
/// Decides what clients may publish and subscribe to, from the rules of its sources (docs/security.md). The rules are
/// compiled into an <see cref="AclRuleSet"/>, built again whenever a source changes; each connection asks through its
/// own <see cref="AclClient"/>, which caches decisions per topic until the version changes. <see cref="RulesChanged"/>
/// tells the brokers to drop subscriptions the new rules no longer allow. Shared by every broker of the server.
/// </summary>
public sealed partial class Authorizer : IDisposable
{
    private static readonly string[] Actions = ["publish", "subscribe"];
    private static readonly string[] Results = ["allow", "deny"];

    private readonly IAclSource[] _sources;
    private readonly bool _defaultAllow;
    private readonly ILogger _logger;
    private readonly Lock _compiling = new();
    private readonly long[] _decisions = new long[Actions.Length * Results.Length];
    private readonly AccessAudit? _audit;
    private readonly bool _recordsAllowed;
    private AclRuleSet _rules;

    /// <param name="defaultAllow">What is decided when no rule speaks about a topic.</param>
    /// <param name="disconnectOnDeny">Security:DenyAction=Disconnect: a refused PUBLISH or SUBSCRIBE closes the connection (5.0: DISCONNECT 0x87).</param>
    public Authorizer(IReadOnlyList<IAclSource> sources, bool defaultAllow, bool disconnectOnDeny, ILogger logger)
    {
        _sources = [.. sources];
        _defaultAllow = defaultAllow;
        _logger = logger;
        DisconnectOnDeny = disconnectOnDeny;
        _rules = Compile(version: 1);
        foreach (var source in _sources)
        {
            source.Changed += Recompile;
        }
    }

    public bool DefaultAllow => _defaultAllow;

    public bool DisconnectOnDeny { get; }

    /// <summary>
    /// What a refused SUBSCRIBE filter answers to an MQTT 5.0 client: 0x87 Not authorized, or 0x80 Unspecified error
    /// (Security:SubscribeRefusalCode); both are SUBACK codes of 5.0 §3.9.3. 3.1.1 always gets 0x80 [MQTT-3.9.3-2].
    /// </summary>
    public ReasonCode SubscribeRefusal { get; init; } = ReasonCode.NotAuthorized;

    /// <summary>Rules in force, every source's.</summary>
    public int RuleCount => Rules.RuleCount;

    /// <summary>The version of the rules in force; bumped by every change.</summary>
    public long Version => Rules.Version;

    /// <summary>Where decisions are recorded: every refusal, and allowed PUBLISHes and SUBSCRIBEs when it asks for them; null: none.</summary>
    public AccessAudit? Audit
    {
        get => _audit;
        init => (_audit, _recordsAllowed) = (value, value?.RecordsAllowed == true);
    }

    /// <summary>Raised after the rules changed, on the thread that noticed the change.</summary>
    public event Action? RulesChanged;

    internal AclRuleSet Rules => Volatile.Read(ref _rules);

    /// <summary>Every (action, result) pair with its count, zeros included, for <c>iothub_authorization_total</c>.</summary>
    public IEnumerable<(string Action, string Result, long Count)> Decisions() => Counts(_decisions);

    private static IEnumerable<(string Action, string Result, long Count)> Counts(long[] decisions)
    {
        for (var i = 0; i < decisions.Length; i++)
        {
            yield return (Actions[i / Results.Length], Results[i % Results.Length], Volatile.Read(ref decisions[i]));
        }
    }

    /// <summary>The decisions of one connection, with its cache; <paramref name="origin"/> is where it came in, for the audit.</summary>
    public AclClient ForClient(AclIdentity identity, ClientOrigin? origin = null) => new(this, identity, origin);

    public void Dispose()
    {
        foreach (var source in _sources)
        {
            source.Changed -= Recompile;
            (source as IDisposable)?.Dispose();
        }
    }

    /// <summary>
    /// Whether a PUBLISH or SUBSCRIBE need not be checked at all under <paramref name="rules"/>: no rule and a default that
    /// allows, so every check would say yes, and no audit that records allowed decisions. Then nothing is counted either;
    /// with <c>RecordAllowed</c> each one is decided (by the default) and recorded.
    /// </summary>
    internal bool ChecksNothing(AclRuleSet rules) => rules.ChecksNothing && !_recordsAllowed;

    /// <summary>
    /// A decision of <paramref name="client"/>: counted (deliveries are not, see <see cref="AclClient.MayReceive"/>) and given to
    /// the audit when it records such decisions. An allowed check costs no more than a flag when allowed ones are not recorded.
    /// </summary>
    /// <param name="auditAllowed">False for a check whose allow the audit never records (a subscription kept after a change of rules).</param>
    internal void Decided(AclClient client, AccessAuditAction action, string topic, bool allowed, bool auditAllowed = true)
    {
        if (action != AccessAuditAction.Receive)
        {
            Interlocked.Increment(ref _decisions[(action == AccessAuditAction.Publish ? 0 : Results.Length) + (allowed ? 0 : 1)]);
        }

        if (_audit is { } audit && (!allowed || (_recordsAllowed && auditAllowed)))
        {
            audit.Record(client, action, topic, allowed);
        }
    }

    private void Recompile()
    {
        lock (_compiling)
        {
            Volatile.Write(ref _rules, Compile(_rules.Version + 1));
        }

        LogRulesChanged(_logger, _rules.RuleCount, _rules.Version);
        RulesChanged?.Invoke();
    }

    private AclRuleSet Compile(long version)
    {
        List<AclRule> rules = [];
        Dictionary<string, IReadOnlyList<string>> roles = new(StringComparer.Ordinal);
        HashSet<string> superusers = new(StringComparer.Ordinal);
        foreach (var source in _sources)
        {
            rules.AddRange(source.Rules);
            var users = source.Users;
            foreach (var (user, held) in users.Roles)
            {
                roles[user] = roles.TryGetValue(user, out var before) ? [.. before, .. held] : held;
            }

            superusers.UnionWith(users.Superusers);
        }

        return new AclRuleSet(rules, _defaultAllow, version, new AclUsers(roles, superusers));
    }

    [LoggerMessage(1320, LogLevel.Information, "Access rules changed: {Rules} rules in force (version {Version}); they apply to connected clients now")]
    private static partial void LogRulesChanged(ILogger logger, int rules, long version);
}
