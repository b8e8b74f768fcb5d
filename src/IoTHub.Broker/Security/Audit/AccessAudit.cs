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
/// connection two interlocked increments and the store at most <see cref="MaxPerSecond"/> rows a second.
/// </summary>
public sealed partial class AccessAudit : IAsyncDisposable
{
    /// <summary>Client ids and user names are recorded cut to this many characters (an index entry must stay small).</summary>
    public const int MaxNameLength = 500;

    private const int BatchSize = 500;
    private static readonly TimeSpan SummaryInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);
    private static readonly string[] DropReasons = ["rate_limit", "queue_full", "write_failed"];

    private readonly IAccessAuditLog _log;
    private readonly Channel<AccessAuditEntry> _queue;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LogRateLimiter _failureLog;
    private readonly LogRateLimiter _droppedLog;
    private readonly CancellationTokenSource _stopping = new();
    private readonly long[] _dropped = new long[DropReasons.Length];
    private readonly Task _writer;
    private long _second;
    private int _admittedThisSecond;
    private long _unreported;
    private long _lastSummary;

    /// <param name="recordAllowed">Whether allowed PUBLISHes and SUBSCRIBEs are recorded too (denials always are).</param>
    /// <param name="maxPerSecond">The most entries recorded per clock second (1 or more).</param>
    public AccessAudit(IAccessAuditLog log, bool recordAllowed, int maxPerSecond, ILogger logger, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPerSecond, 1);
        _log = log;
        RecordsAllowed = recordAllowed;
        MaxPerSecond = maxPerSecond;
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

    /// <summary>Decisions not recorded, by reason (<c>rate_limit</c>, <c>queue_full</c>, <c>write_failed</c>), zeros included, for <c>iothub_access_audit_dropped_total</c>.</summary>
    public IEnumerable<(string Reason, long Count)> Dropped() => Counts(_dropped);

    /// <summary>The reasons of <see cref="Dropped"/>, all zero: where there is no audit.</summary>
    public static IEnumerable<(string Reason, long Count)> NoneDropped() => Counts(new long[DropReasons.Length]);

    /// <summary>Completes the queue and waits (at most a few seconds) until the writer stored what it held and the last summary.</summary>
    public async ValueTask DisposeAsync()
    {
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

        _stopping.Dispose();
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
}
