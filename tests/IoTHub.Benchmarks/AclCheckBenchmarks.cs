using System.Globalization;
using BenchmarkDotNet.Attributes;
using IoTHub.Broker.Security.Audit;
using IoTHub.Broker.Security.Authorization;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTHub.Benchmarks;

/// <summary>
/// One access check (issue 17: under 1 µs with 10 000 rules) among 10, 1 000 and 10 000 rules: per-user rules
/// (<c>user-N</c> may read and write <c>users/N/#</c> and is denied <c>users/N/secret</c>), a <c>%u</c> pattern for everyone and
/// a few everyone rules. <c>Uncached</c> walks the compiled rules; <c>Cached</c> is the connection's cache hit (the
/// common case: a device publishes the same topics again); <c>PublishAllowed</c> and <c>PublishDenied</c> are a PUBLISH's
/// check (a cache hit, counted, and with <see cref="Audited"/> given to the access audit: a refusal is recorded while the
/// second's budget lasts, then only counted); <c>Subscribe</c> checks that a rule covers a wildcard filter; <c>ByRole</c>
/// walks the rules of a user holding two roles (an allow of <c>fleet/%u/#</c> and a deny of <c>fleet/%u/locked</c>), whose
/// own rules say nothing: the user's scope, then both roles.
/// </summary>
[MemoryDiagnoser]
public class AclCheckBenchmarks
{
    private AclRuleSet _rules = null!;
    private AclClient _client = null!;
    private AclIdentity _identity = null!;
    private AclIdentity _member = null!;
    private string _topic = null!;
    private string _deniedTopic = null!;

    private AccessAudit? _audit;

    [Params(10, 1_000, 10_000)]
    public int Rules { get; set; }

    /// <summary>Whether the authorizer has an access audit (recording refusals only, at the default 1 000 a second, into a log that keeps nothing).</summary>
    [Params(false, true)]
    public bool Audited { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rules = new List<AclRule>
        {
            new(true, AclAction.Both, "devices/%u/#", AclScope.Everyone, Pattern: true),
            new(true, AclAction.Subscribe, "broadcast/#", AclScope.Everyone),
            new(false, AclAction.Both, "broadcast/secret/#", AclScope.Everyone),
            new(true, AclAction.Both, "fleet/%u/#", AclScope.Role, Pattern: true, RoleName: "drivers"),
            new(false, AclAction.Publish, "fleet/%u/locked", AclScope.Role, Pattern: true, RoleName: "trainees"),
        };
        for (var i = 0; rules.Count < Rules; i++)
        {
            var user = "user-" + i.ToString(CultureInfo.InvariantCulture);
            rules.Add(new AclRule(true, AclAction.Both, $"users/{i}/#", AclScope.User, user));
            rules.Add(new AclRule(false, AclAction.Both, $"users/{i}/secret", AclScope.User, user));
        }

        var user0 = Rules > 10 ? "user-" + (Rules / 4).ToString(CultureInfo.InvariantCulture) : "user-1";
        _identity = new AclIdentity(user0, "device-1", null);
        _member = new AclIdentity("member", "device-2", null);
        var users = new AclUsers(new Dictionary<string, IReadOnlyList<string>> { ["member"] = ["drivers", "trainees"] }, new HashSet<string>());
        _audit = Audited ? new AccessAudit(new DiscardedLog(), recordAllowed: false, maxPerSecond: 1_000, NullLogger.Instance) : null;
        var authorizer = new Authorizer([new FixedRules(rules, users)], defaultAllow: false, disconnectOnDeny: false, NullLogger.Instance) { Audit = _audit };
        _rules = authorizer.Rules;
        _client = authorizer.ForClient(_identity);
        _topic = $"devices/{user0}/telemetry/temperature";
        _deniedTopic = "broadcast/secret/plans";
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        if (_audit is not null)
        {
            await _audit.DisposeAsync();
        }
    }

    [Benchmark]
    public bool Uncached() => _rules.Allows(_identity, AclAction.Publish, _topic, isFilter: false);

    [Benchmark]
    public bool Cached() => _client.MayReceive(_topic);

    [Benchmark]
    public bool PublishAllowed() => _client.MayPublish(_topic);

    [Benchmark]
    public bool PublishDenied() => _client.MayPublish(_deniedTopic);

    [Benchmark]
    public bool Subscribe() => _rules.Allows(_identity, AclAction.Subscribe, "broadcast/+/news", isFilter: true);

    [Benchmark]
    public bool ByRole() => _rules.Allows(_member, AclAction.Publish, "fleet/member/telemetry", isFilter: false);

    private sealed class DiscardedLog : IAccessAuditLog
    {
        public Task WriteAsync(IReadOnlyList<AccessAuditEntry> entries, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<(IReadOnlyList<AccessAuditEntry> Entries, int Total)> ReadAsync(AccessAuditQuery query, int skip, int take, CancellationToken cancellationToken) =>
            Task.FromResult<(IReadOnlyList<AccessAuditEntry>, int)>(([], 0));

        public Task<long> PruneAsync(DateTimeOffset olderThan, long keep, CancellationToken cancellationToken) => Task.FromResult(0L);
    }

    private sealed class FixedRules(IReadOnlyList<AclRule> rules, AclUsers users) : IAclSource
    {
        public IReadOnlyList<AclRule> Rules => rules;

        public AclUsers Users => users;

        public event Action? Changed
        {
            add { }
            remove { }
        }
    }
}
