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

    /// <summary>Rules in force, every source's.</summary>
    public int RuleCount => Rules.RuleCount;

    /// <summary>The version of the rules in force; bumped by every change.</summary>
    public long Version => Rules.Version;

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

    /// <summary>The decisions of one connection, with its cache.</summary>
    public AclClient ForClient(AclIdentity identity) => new(this, identity);

    public void Dispose()
    {
        foreach (var source in _sources)
        {
            source.Changed -= Recompile;
            (source as IDisposable)?.Dispose();
        }
    }

    internal void Count(AclAction action, bool allowed) =>
        Interlocked.Increment(ref _decisions[(action == AclAction.Publish ? 0 : Results.Length) + (allowed ? 0 : 1)]);

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
