using System.Threading.Channels;
using IoTHub.Broker.Security.Audit;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Tests.Support;
using IoTHub.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests.Security;

/// <summary>
/// The access audit keeps its store within Security:AccessAudit:MaxAge and MaxEntries: it prunes at start and then every
/// minute of its clock (a <see cref="FakeTimeProvider"/> here), and a failing prune is logged once per outage without
/// stopping the recording. Once disposed, it stores nothing more: its last write is that of disposing. What the stores
/// delete is tested on real SQLite and PostgreSQL in IoTHub.Data.Tests.
/// </summary>
public sealed class AccessAuditRetentionTests
{
    private static readonly AccessAuditRetention Retention = new(TimeSpan.FromDays(2), 5_000);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
    private readonly PruneRecordingLog _log = new();
    private readonly CapturingLogger<AccessAudit> _logger = new();

    [Fact]
    public async Task It_prunes_at_start_and_again_after_a_minute_with_the_configured_limits()
    {
        var start = _time.GetUtcNow();
        await using var audit = new AccessAudit(_log, recordAllowed: false, maxPerSecond: 100, _logger, _time, Retention);
        audit.StartPruning();

        Assert.Equal((start - Retention.MaxAge, Retention.MaxEntries), await _log.NextPruneAsync());

        var (olderThan, keep) = await NextPruneAdvancingAsync();
        Assert.Equal(Retention.MaxEntries, keep);
        Assert.True(olderThan >= start + AccessAudit.PruneInterval - Retention.MaxAge, $"pruned again before a minute passed (cutoff {olderThan:O})");
        Assert.DoesNotContain(_logger.Entries, static e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task A_failing_prune_is_logged_once_per_outage_and_decisions_are_still_recorded()
    {
        _log.Failing = true;
        await using var audit = new AccessAudit(_log, recordAllowed: false, maxPerSecond: 100, _logger, _time, Retention);
        audit.StartPruning();
        await _log.NextPruneAsync();
        await NextPruneAdvancingAsync();
        await NextPruneAdvancingAsync();
        await Poll.UntilAsync(() => PruneLogs(1332) == 1);

        using var authorizer = new Authorizer([], defaultAllow: false, disconnectOnDeny: false, _logger) { Audit = audit };
        Assert.False(authorizer.ForClient(new AclIdentity("alice", "sensor-1", null)).MayPublish("secret/plans"));
        var written = await _log.Written.Reader.ReadAsync().AsTask().WaitAsync(MqttTestClient.Timeout);
        Assert.Equal((AccessAuditResult.Deny, "secret/plans"), (written.Result, written.Topic));

        _log.Failing = false;
        await NextPruneAdvancingAsync();
        await NextPruneAdvancingAsync();
        await Poll.UntilAsync(() => PruneLogs(1333) == 1);
        Assert.Equal(1, PruneLogs(1332));
        Assert.Equal(1, PruneLogs(1333));
    }

    [Fact]
    public async Task Disposing_stops_the_pruning()
    {
        var audit = new AccessAudit(_log, recordAllowed: false, maxPerSecond: 100, _logger, _time, Retention);
        audit.StartPruning();
        await _log.NextPruneAsync();
        await audit.DisposeAsync();

        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.False(_log.Prunes.Reader.TryRead(out _));
    }

    [Fact]
    public async Task After_disposing_a_decision_is_dropped_and_nothing_is_written()
    {
        var audit = new AccessAudit(_log, recordAllowed: false, maxPerSecond: 100, _logger, _time, Retention);
        using var authorizer = new Authorizer([], defaultAllow: false, disconnectOnDeny: false, _logger) { Audit = audit };
        var client = authorizer.ForClient(new AclIdentity("alice", "sensor-1", null));
        Assert.False(client.MayPublish("before"));
        await audit.DisposeAsync();
        Assert.True(_log.Written.Reader.TryRead(out var stored));
        Assert.Equal("before", stored.Topic);

        // A connection that closes late in the host's shutdown still decides; its writer has ended, so nothing is written.
        Assert.False(client.MayPublish("after"));
        Assert.False(_log.Written.Reader.TryRead(out _));
        Assert.DoesNotContain(_logger.Entries, static e => e.Level >= LogLevel.Warning);
    }

    private int PruneLogs(int eventId) => _logger.Entries.Count(e => e.EventId == eventId);

    /// <summary>
    /// Moves the clock ten seconds at a time until the audit prunes again: the loop may not have started its wait for the
    /// next minute when the test sees a prune, so a single step of one minute could come before that wait and be missed.
    /// </summary>
    private async Task<(DateTimeOffset OlderThan, long Keep)> NextPruneAdvancingAsync()
    {
        var next = _log.NextPruneAsync();
        var deadline = DateTime.UtcNow + MqttTestClient.Timeout;
        while (!next.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline, "the audit did not prune again");
            _time.Advance(TimeSpan.FromSeconds(10));
            await Task.WhenAny(next, Task.Delay(20));
        }

        return await next;
    }

    private sealed class PruneRecordingLog : IAccessAuditLog
    {
        public Channel<(DateTimeOffset OlderThan, long Keep)> Prunes { get; } = Channel.CreateUnbounded<(DateTimeOffset, long)>();

        public Channel<AccessAuditEntry> Written { get; } = Channel.CreateUnbounded<AccessAuditEntry>();

        private volatile bool _failing;

        public bool Failing
        {
            get => _failing;
            set => _failing = value;
        }

        public Task<(DateTimeOffset OlderThan, long Keep)> NextPruneAsync() => Prunes.Reader.ReadAsync().AsTask().WaitAsync(MqttTestClient.Timeout);

        public Task WriteAsync(IReadOnlyList<AccessAuditEntry> entries, CancellationToken cancellationToken)
        {
            foreach (var entry in entries)
            {
                Written.Writer.TryWrite(entry);
            }

            return Task.CompletedTask;
        }

        public Task<(IReadOnlyList<AccessAuditEntry> Entries, int Total)> ReadAsync(AccessAuditQuery query, int skip, int take, CancellationToken cancellationToken) =>
            Task.FromResult<(IReadOnlyList<AccessAuditEntry>, int)>(([], 0));

        public Task<long> PruneAsync(DateTimeOffset olderThan, long keep, CancellationToken cancellationToken)
        {
            Prunes.Writer.TryWrite((olderThan, keep));
            return Failing ? Task.FromException<long>(new IOException("database or disk is full")) : Task.FromResult(0L);
        }
    }
}
