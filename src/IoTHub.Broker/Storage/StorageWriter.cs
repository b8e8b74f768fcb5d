using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTHub.Broker.Storage;

/// <summary>
/// The one background writer in front of an <see cref="IBrokerStore"/> (group commit). Callers
/// append operations to an open batch; a single loop takes the whole open batch, commits it in
/// one transaction, and completes every operation of it together. In <see cref="StorageDurability.Strict"/>
/// mode a write's task completes only after its batch committed (so a PUBACK can wait for it); in
/// <see cref="StorageDurability.Relaxed"/> mode it completes at once and the batch is written behind.
/// Appending allocates nothing per operation: one task per batch, arrays reused. When the store
/// falls behind by <c>maxPendingOperations</c>, relaxed writes wait for their batch like strict
/// ones, so memory stays bounded and the callers slow down instead.
/// <para>
/// A group (<see cref="BeginGroup"/> ... <see cref="EndGroup"/>) puts writes that must commit together in one batch, such as a
/// forwarded call's session writes and its receipt (<see cref="StorageOperation.ForwardReceipt"/>): while a group is open the loop
/// does not take the open batch, so everything written meanwhile, by the group's thread or any other, lands in the same commit.
/// Groups take a reader-writer lock's read side and the loop its write side around taking the batch: a loop waiting to take holds
/// off new groups, so groups cannot starve it, and the loop pays one uncontended lock per commit, writes nothing.
/// </para>
/// </summary>
public sealed partial class StorageWriter : IAsyncDisposable
{
    private readonly IBrokerStore _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();

    // Read side: open groups; write side: the loop taking the open batch. Never disposed: a forwarded batch may still be in a group
    // as the writer closes (its writes then fail), and disposing a lock that is held throws; its wait handles go with the writer.
#pragma warning disable CA2213
    private readonly ReaderWriterLockSlim _groups = new(LockRecursionPolicy.NoRecursion);
#pragma warning restore CA2213

    // Capacity 1, extra rings dropped: it only says "there is something to take".
    private readonly Channel<bool> _doorbell = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private readonly Task _loop;
    private readonly int _maxPending;
    private StorageOperation[] _open = new StorageOperation[256];
    private StorageOperation[] _spare = new StorageOperation[256];
    private int _openCount;
    private TaskCompletionSource _openCommitted = NewCompletion();
    private Task? _committing;
    private bool _closed;
    private long _batches;
    private long _operations;
    private long _failedBatches;
    private Histogram<double>? _commitDuration;
    private TagList _commitTags;

    // The outage in progress (batches failing in a row): when it started, and the failures since the last report.
    // One that starts within a report interval of the last one's end (small writes still fit on a full disk,
    // deletes free room) goes on that one in the log: counted, not announced again.
    private long _outageStartedAt;
    private long _reportedAt;
    private long _unreportedFailures;
    private long _outageFailures;
    private long _outageEndedAt;
    private bool _outageLogged;

    public const int DefaultMaxPendingOperations = 100_000;

    /// <summary>How often an outage that goes on is reported, with the count of failed commits.</summary>
    public static readonly TimeSpan OutageReportInterval = TimeSpan.FromMinutes(1);

    public StorageWriter(IBrokerStore store, StorageDurability durability, ILogger<StorageWriter>? logger = null,
        int maxPendingOperations = DefaultMaxPendingOperations, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPendingOperations);
        _store = store;
        _maxPending = maxPendingOperations;
        Durability = durability;
        HoldsQos2Deliveries = durability == StorageDurability.Strict && store.OutlivesBroker;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _loop = StartLoop();
    }

    public StorageDurability Durability { get; }

    /// <summary>
    /// Strict durability over a store another broker can load (<see cref="IBrokerStore.OutlivesBroker"/>): a QoS 2 PUBLISH
    /// to a stored session waits for the commit of its packet id (docs/storage.md).
    /// </summary>
    internal bool HoldsQos2Deliveries { get; }

    /// <summary>Transactions committed so far.</summary>
    public long CommittedBatches => Interlocked.Read(ref _batches);

    /// <summary>Operations committed so far.</summary>
    public long CommittedOperations => Interlocked.Read(ref _operations);

    /// <summary>Batches whose commit failed (their operations were not stored).</summary>
    public long FailedBatches => Interlocked.Read(ref _failedBatches);

    /// <summary>
    /// Makes the writer record, in <paramref name="histogram"/> with <paramref name="tags"/>, the seconds each committed
    /// batch took in the store (one record per batch, not per operation; failed commits are counted in
    /// <see cref="FailedBatches"/> instead). Nothing is measured while the instrument has no listener.
    /// </summary>
    public void RecordCommitDurationIn(Histogram<double> histogram, in TagList tags)
    {
        _commitTags = tags;
        Volatile.Write(ref _commitDuration, histogram);
    }

    /// <summary>Why the last failed batch failed; null when none has.</summary>
    public Exception? LastFailure { get; private set; }

    /// <summary>True while the most recent batch failed (storage down, disk full); false again after a batch commits.</summary>
    public bool Failing => Volatile.Read(ref _outageStartedAt) != 0;

    /// <summary>
    /// Appends <paramref name="operation"/> to the open batch. Strict: completes when the batch is
    /// committed, faults when its commit failed. Relaxed: already completed, unless the open batch
    /// holds the most operations allowed; then it completes when that batch is committed.
    /// </summary>
    public ValueTask WriteAsync(in StorageOperation operation)
    {
        Task committed;
        bool behind;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_openCount == _open.Length)
            {
                Array.Resize(ref _open, _open.Length * 2);
            }

            _open[_openCount++] = operation;
            committed = _openCommitted.Task;
            behind = _openCount >= _maxPending;
        }

        _doorbell.Writer.TryWrite(true);
        return Durability == StorageDurability.Strict || behind ? new ValueTask(committed) : default;
    }

    /// <summary>
    /// Opens a group: everything written from now until <see cref="EndGroup"/>, on any thread, commits in one batch. Waits while the
    /// loop is taking a batch. Begin and end a group on the same thread, with no await between (it wraps a synchronous routine of a
    /// few microseconds: the loop cannot commit meanwhile); groups do not nest.
    /// </summary>
    public void BeginGroup() => _groups.EnterReadLock();

    /// <summary>Closes the group <see cref="BeginGroup"/> opened on this thread: the loop may take its batch again.</summary>
    public void EndGroup() => _groups.ExitReadLock();

    /// <summary>Whether the loop waits for open groups to end before it takes the open batch.</summary>
    internal bool TakeWaitsForGroups => _groups.WaitingWriteCount > 0;

    /// <summary>Completes when everything written before the call is committed (in either mode).</summary>
    public Task FlushAsync()
    {
        lock (_gate)
        {
            return _openCount > 0 ? _openCommitted.Task : _committing ?? Task.CompletedTask;
        }
    }

    /// <summary>Commits what is still open, then stops. The store is not disposed: its owner does that.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
        }

        _doorbell.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private static TaskCompletionSource NewCompletion() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Runs the commit loop on a thread of its own, never on the thread pool. SQLite (Microsoft.Data.Sqlite has no asynchronous
    /// I/O) and the file store commit synchronously, fsync included: on a pool thread every commit would hold a worker for
    /// its whole length, and on one core, where the pool keeps a single worker busy, every connection would wait behind it,
    /// for half a second when the pool's starvation check has to add a thread (issue 19). PostgreSQL's commits are
    /// asynchronous: their I/O completes on the pool as before, and this thread only waits for them.
    /// </summary>
    private Task StartLoop()
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(static state =>
        {
            var (writer, ended) = ((StorageWriter, TaskCompletionSource))state!;
#pragma warning disable CA1031 // Whatever ends the loop is handed to DisposeAsync, as a faulted loop task was before.
            try
            {
                writer.Run();
                ended.SetResult();
            }
            catch (Exception e)
            {
                ended.SetException(e);
            }
#pragma warning restore CA1031
        })
        { IsBackground = true, Name = "IoTHub storage writer" };
        thread.Start((this, ended));
        return ended.Task;
    }

    private void Run()
    {
        while (WaitForRing())
        {
            _doorbell.Reader.TryRead(out _);
            CommitOpenBatchAsync().GetAwaiter().GetResult();
        }

        // Closed: a ring dropped while the channel was full is covered by this last look.
        CommitOpenBatchAsync().GetAwaiter().GetResult();
    }

    // Blocks this thread (its own, see StartLoop) until a write rang or the writer closed.
    private bool WaitForRing()
    {
        var ringing = _doorbell.Reader.WaitToReadAsync();
        return ringing.IsCompletedSuccessfully ? ringing.Result : ringing.AsTask().GetAwaiter().GetResult();
    }

    private async Task CommitOpenBatchAsync()
    {
        StorageOperation[] batch;
        int count;
        TaskCompletionSource committed;
        _groups.EnterWriteLock();
        try
        {
            lock (_gate)
            {
                if (_openCount == 0)
                {
                    return;
                }

                batch = _open;
                count = _openCount;
                committed = _openCommitted;
                _open = _spare;
                _spare = batch;
                _openCount = 0;
                _openCommitted = NewCompletion();
                _committing = committed.Task;
            }
        }
        finally
        {
            _groups.ExitWriteLock();
        }

        try
        {
            var duration = Volatile.Read(ref _commitDuration);
            var started = duration is { Enabled: true } ? Stopwatch.GetTimestamp() : 0;
            await _store.CommitAsync(batch.AsMemory(0, count)).ConfigureAwait(false);
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _operations, count);
            if (started != 0)
            {
                duration!.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _commitTags);
            }

            EndOutage();
            committed.TrySetResult();
        }
#pragma warning disable CA1031 // Any failure of the store fails the batch's writers; the loop goes on.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LastFailure = e;
            Interlocked.Increment(ref _failedBatches);
            CountFailure(e);
            committed.TrySetException(e);
            if (Durability == StorageDurability.Relaxed)
            {
                // Nobody awaits a relaxed batch except FlushAsync; observe it so it is not reported as unobserved.
                _ = committed.Task.Exception;
            }
        }
        finally
        {
            // Drop the message references; the array is reused.
            Array.Clear(batch, 0, count);
            lock (_gate)
            {
                if (ReferenceEquals(_committing, committed.Task))
                {
                    _committing = null;
                }
            }
        }
    }

    /// <summary>
    /// A failed batch: the first of an outage is logged with its cause, the next ones are counted and
    /// the count logged once per <see cref="OutageReportInterval"/> (a batch fails per reconnecting
    /// publisher, which must not flood the log), also those of outages that followed the last logged one
    /// within an interval. No stack trace: the cause is a state of the storage.
    /// </summary>
    private void CountFailure(Exception failure)
    {
        var now = _time.GetTimestamp();
        _outageFailures++;
        if (_outageStartedAt == 0)
        {
            Volatile.Write(ref _outageStartedAt, now);
            _outageLogged = _outageEndedAt == 0 || _time.GetElapsedTime(_outageEndedAt, now) >= OutageReportInterval;
            if (_outageLogged)
            {
                _reportedAt = now;
                _unreportedFailures = 0;
                _outageFailures = 1;
                LogOutageStarted(_logger, failure.GetType().Name, failure.Message.TrimEnd('.'));
                return;
            }
        }

        _unreportedFailures++;
        if (_time.GetElapsedTime(_reportedAt, now) >= OutageReportInterval)
        {
            LogOutageContinues(_logger, _unreportedFailures, _time.GetElapsedTime(_reportedAt, now), failure.Message);
            _reportedAt = now;
            _unreportedFailures = 0;
        }
    }

    private void EndOutage()
    {
        if (_outageStartedAt == 0)
        {
            return;
        }

        _outageEndedAt = _time.GetTimestamp();
        if (_outageLogged)
        {
            LogOutageEnded(_logger, _time.GetElapsedTime(_outageStartedAt, _outageEndedAt), _outageFailures);
        }

        Volatile.Write(ref _outageStartedAt, 0);
    }

    [LoggerMessage(1200, LogLevel.Error,
        "Storage commits fail: {Cause}: {Reason}. Nothing of a failed commit is stored or acknowledged; its publishers are disconnected and send again")]
    private static partial void LogOutageStarted(ILogger logger, string cause, string reason);

    [LoggerMessage(1201, LogLevel.Error, "Storage commits still fail: {Count} more failed in the last {Period} ({Reason})")]
    private static partial void LogOutageContinues(ILogger logger, long count, TimeSpan period, string reason);

    [LoggerMessage(1202, LogLevel.Information, "Storage commits succeed again after {Duration} and {Count} failed commits")]
    private static partial void LogOutageEnded(ILogger logger, TimeSpan duration, long count);
}
