using System.Threading.Channels;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Security.Authorization;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Security.Audit;

/// <summary>
/// Records access decisions in an <see cref="IAccessAuditLog"/> (docs/security.md#audit-of-access-decisions) without
/// slowing the connections that make them. A decision first passes a lock-free budget of <see cref="MaxPerSecond"/>
/// entries per clock second, then goes into a bounded queue (one second's worth; a full queue drops the new entry), which
/// one background writer empties in batches. What is not recorded is counted by reason and reported as one
/// <see cref="AccessAuditResult.Dropped"/> entry at most once a second, so a flood of refused PUBLISHes costs each
/// connection two interlocked increments and the store at most <see cref="MaxPerSecond"/> rows a second. A second loop keeps
/// the store within <see cref="Retention"/>: once at start, then every minute.
/// </summary>
public sealed partial class AccessAudit : IAsyncDisposable
{
    /// <summary>Client ids and user names are recorded cut to this many characters (an index entry must stay small).</summary>
    public const int MaxNameLength = 500;

    private const int BatchSize = 500;
    private static readonly TimeSpan SummaryInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);
    private static readonly string[] DropReasons = ["rate_limit", "queue_full", "write_failed"];

    /// <summary>How often the store is pruned: at 1 000 entries a second, a minute adds 60 000 rows, twelve short deletes.</summary>
    internal static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(1);

    private readonly IAccessAuditLog _log;
    private readonly Channel<AccessAuditEntry> _queue;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LogRateLimiter _failureLog;
    private readonly LogRateLimiter _droppedLog;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _stopPruning = new();
    private readonly long[] _dropped = new long[DropReasons.Length];
    private readonly Task _writer;
    private Task _pruner = Task.CompletedTask;
    private bool _pruneFailing;
    private long _second;
    private int _admittedThisSecond;
    private long _unreported;
    private long _lastSummary;

    /// <param name="recordAllowed">Whether allowed PUBLISHes and SUBSCRIBEs are recorded too (denials always are).</param>
    /// <param name="maxPerSecond">The most entries recorded per clock second (1 or more).</param>
    /// <param name="retention">How long and how many entries the store keeps; null: <see cref="AccessAuditRetention.Default"/>.</param>
    public AccessAudit(IAccessAuditLog log, bool recordAllowed, int maxPerSecond, ILogger logger, TimeProvider? time = null,
        AccessAuditRetention? retention = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPerSecond, 1);
        retention ??= AccessAuditRetention.Default;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(retention.MaxAge, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(retention.MaxEntries, 1);
        _log = log;
        RecordsAllowed = recordAllowed;
        MaxPerSecond = maxPerSecond;
        Retention = retention;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _failureLog = new LogRateLimiter(linesPerPeriod: 1, TimeSpan.FromMinutes(1), _time);
        _droppedLog = new LogRateLimiter(linesPerPeriod: 1, TimeSpan.FromMinutes(1), _time);
        _queue = Channel.CreateBounded<AccessAuditEntry>(
            new BoundedChannelOptions(maxPerSecond) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true },
            _ => Drop(DropReason.QueueFull));
        _lastSummary = _time.GetTimestamp();
        _writer = Task.Run(WriteAsync);
    }

    private enum DropReason
    {
        RateLimit,
        QueueFull,
        WriteFailed,
    }

    public bool RecordsAllowed { get; }

    public int MaxPerSecond { get; }

    public AccessAuditRetention Retention { get; }

    /// <summary>Decisions not recorded, by reason (<c>rate_limit</c>, <c>queue_full</c>, <c>write_failed</c>), zeros included, for <c>iothub_access_audit_dropped_total</c>.</summary>
    public IEnumerable<(string Reason, long Count)> Dropped() => Counts(_dropped);

    /// <summary>The reasons of <see cref="Dropped"/>, all zero: where there is no audit.</summary>
    public static IEnumerable<(string Reason, long Count)> NoneDropped() => Counts(new long[DropReasons.Length]);

    /// <summary>
    /// Starts pruning the store now and every <see cref="PruneInterval"/>: once the store is open (its tables exist), not
    /// when the audit is made, which is before storage opened and migrated the database. A second call does nothing.
    /// </summary>
    public void StartPruning()
    {
        if (_pruner.IsCompleted && !_stopPruning.IsCancellationRequested)
        {
            _pruner = Task.Run(PruneLoopAsync);
        }
    }

    /// <summary>Completes the queue and waits (at most a few seconds) until the writer stored what it held and the last summary.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopPruning.CancelAsync().ConfigureAwait(false);
        _queue.Writer.TryComplete();
        try
        {
            await _writer.WaitAsync(FlushTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The store hangs: what is left is counted as failed, quickly (each write now ends at once).
            await _stopping.CancelAsync().ConfigureAwait(false);
            await _writer.ConfigureAwait(false);
        }

        await _pruner.ConfigureAwait(false);
        _stopping.Dispose();
        _stopPruning.Dispose();
    }

    /// <summary>Records one decision of <paramref name="client"/>, unless over the rate or the queue is full (then only counted).</summary>
    internal void Record(AclClient client, AccessAuditAction action, string topic, bool allowed)
    {
        if (!Admit())
        {
            Drop(DropReason.RateLimit);
            return;
        }

        var origin = client.Origin;
        var identity = client.Identity;
        _queue.Writer.TryWrite(new AccessAuditEntry(_time.GetUtcNow(), allowed ? AccessAuditResult.Allow : AccessAuditResult.Deny, origin?.Broker,
            origin?.Listener, origin?.Address, Cut(identity.UserName), Cut(identity.ClientId), action, topic,
            client.DecidingRule(action, topic) is { } rule ? rule.Source ?? rule.Filter : AccessAuditEntry.DefaultRule));
    }

    /// <summary>
    /// Deletes from the store what is older than <see cref="AccessAuditRetention.MaxAge"/> and all but the newest
    /// <see cref="AccessAuditRetention.MaxEntries"/>; what the loop does every <see cref="PruneInterval"/>. A failure is logged
    /// once until a prune succeeds again, and never touches the recording.
    /// </summary>
    internal async Task PruneAsync()
    {
        try
        {
            var deleted = await _log.PruneAsync(_time.GetUtcNow() - Retention.MaxAge, Retention.MaxEntries, _stopPruning.Token).ConfigureAwait(false);
            if (_pruneFailing)
            {
                _pruneFailing = false;
                LogPruneRecovered(_logger, deleted);
            }
        }
        catch (OperationCanceledException) when (_stopPruning.IsCancellationRequested)
        {
            // Stopping: the next start prunes first.
        }
        catch (Exception e)
        {
            if (!_pruneFailing)
            {
                _pruneFailing = true;
                LogPruneFailed(_logger, e);
            }
        }
    }

    private async Task PruneLoopAsync()
    {
        while (!_stopPruning.IsCancellationRequested)
        {
            await PruneAsync().ConfigureAwait(false);
            try
            {
                await Task.Delay(PruneInterval, _time, _stopPruning.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private static IEnumerable<(string Reason, long Count)> Counts(long[] dropped)
    {
        for (var i = 0; i < DropReasons.Length; i++)
        {
            yield return (DropReasons[i], Volatile.Read(ref dropped[i]));
        }
    }

    private static string? Cut(string? name) => name is { Length: > MaxNameLength } ? name[..MaxNameLength] : name;

    /// <summary>
    /// Whether the budget of this clock second has room. Lock-free: the first caller of a new second moves the window forward
    /// (never back) and restarts the count; a caller that races it may be counted against the old count and dropped.
    /// </summary>
    private bool Admit()
    {
        var second = _time.GetTimestamp() / _time.TimestampFrequency;
        var current = Volatile.Read(ref _second);
        if (second > current && Interlocked.CompareExchange(ref _second, second, current) == current)
        {
            Volatile.Write(ref _admittedThisSecond, 0);
        }

        return Interlocked.Increment(ref _admittedThisSecond) <= MaxPerSecond;
    }

    private void Drop(DropReason reason, long count = 1)
    {
        Interlocked.Add(ref _dropped[(int)reason], count);
        if (reason != DropReason.WriteFailed)
        {
            Interlocked.Add(ref _unreported, count);
        }
    }

    /// <summary>
    /// The writer: waits for entries, stores them in batches, and adds a summary of what was dropped at most once a second.
    /// While there was work, it also wakes a second after the last one: decisions dropped over the rate come after that
    /// second's admitted ones, so by then they are all counted.
    /// </summary>
    private async Task WriteAsync()
    {
        var reader = _queue.Reader;
        List<AccessAuditEntry> batch = new(BatchSize);
        Task<bool>? waiting = null;
        var busy = false;
        while (true)
        {
            waiting ??= reader.WaitToReadAsync().AsTask();
            if (busy)
            {
                await Task.WhenAny(waiting, Task.Delay(SummaryInterval, _time)).ConfigureAwait(false);
            }
            else
            {
                await waiting.ConfigureAwait(false);
            }

            if (waiting.IsCompleted)
            {
                if (!await waiting.ConfigureAwait(false))
                {
                    break;
                }

                waiting = null;
            }

            busy = await WriteQueuedAsync(batch, final: false).ConfigureAwait(false);
        }

        await WriteQueuedAsync(batch, final: true).ConfigureAwait(false);
    }

    /// <summary>Stores what is queued, batch by batch, with the summary when one is due; whether it is worth waking again soon.</summary>
    private async Task<bool> WriteQueuedAsync(List<AccessAuditEntry> batch, bool final)
    {
        var wrote = false;
        do
        {
            batch.Clear();
            while (batch.Count < BatchSize && _queue.Reader.TryRead(out var entry))
            {
                batch.Add(entry);
            }

            if (batch.Count < BatchSize && (final || _time.GetElapsedTime(_lastSummary) >= SummaryInterval)
                && Interlocked.Exchange(ref _unreported, 0) is > 0 and var dropped)
            {
                _lastSummary = _time.GetTimestamp();
                batch.Add(AccessAuditEntry.Summary(_time.GetUtcNow(), dropped));
                if (_droppedLog.TryAcquire(out _))
                {
                    LogDropped(_logger, dropped, MaxPerSecond);
                }
            }

            if (batch.Count > 0)
            {
                wrote = true;
                await StoreAsync(batch).ConfigureAwait(false);
            }
        }
        while (_queue.Reader.Count > 0);

        return wrote || Volatile.Read(ref _unreported) > 0;
    }

    private async Task StoreAsync(List<AccessAuditEntry> batch)
    {
        try
        {
            await _log.WriteAsync(batch, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A store that fails (a full disk, a lost database) loses these entries, never the broker's time; counted and logged.
            var lost = batch.Count(static entry => entry.Result != AccessAuditResult.Dropped);
            Drop(DropReason.WriteFailed, lost);
            if (_failureLog.TryAcquire(out _))
            {
                LogWriteFailed(_logger, e, lost);
            }
        }
    }

    [LoggerMessage(1330, LogLevel.Warning,
        "Access audit: {Dropped} access decisions were not recorded (more than {MaxPerSecond} a second, or the store fell behind); logged at most once a minute, all counted in iothub_access_audit_dropped_total")]
    private static partial void LogDropped(ILogger logger, long dropped, int maxPerSecond);

    [LoggerMessage(1331, LogLevel.Error, "Access audit: {Lost} access decisions could not be stored")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, long lost);

    [LoggerMessage(1332, LogLevel.Error,
        "Access audit: old entries could not be deleted (Security:AccessAudit:MaxAge, MaxEntries); recording goes on, the store grows until a prune succeeds (tried every minute, logged again when it does)")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);

    [LoggerMessage(1333, LogLevel.Information, "Access audit: old entries are deleted again ({Deleted} this time)")]
    private static partial void LogPruneRecovered(ILogger logger, long deleted);
}
