using System.Threading.Channels;
using IoTHub.Broker.Messages;
using IoTHub.Mqtt;

namespace IoTHub.Cluster.Routing;

/// <summary>
/// The messages waiting to be forwarded to one other node, and the sender that takes them there in batches: what is waiting (after
/// <see cref="RoutingSettings.ForwardWindow"/>, when one is set), up to <see cref="RoutingSettings.ForwardBatchSize"/>, in one call,
/// one call at a time (so they arrive in order). A publisher only queues: when the queue is full the message is
/// dropped and counted, never waited for. A QoS 1 or 2 message is queued with the queue's open <see cref="Acceptance"/>, which
/// its publisher's acknowledgement waits for (docs/clustering.md#acknowledged-forwarding). With <see cref="ReceiptFence"/>, a call
/// carrying a QoS 2 message that fails, however it fails, is in doubt until the node is declared dead and fenced, which tells
/// whether the node committed it (docs/clustering.md#forward-receipts).
/// </summary>
internal sealed class ForwardQueue
{
    private readonly Channel<Forward> _messages;

    // Wakes the sender: one pending wake is enough, whatever was queued before it.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly RoutingSettings _settings;
    private readonly string _node;
    private readonly TimeProvider _time;
    private readonly ReceiptFence? _receipts;

    // The calls in doubt, under their lock: failed, with a receipt asked for; resolved once the node is dead
    // and its last call is over, or given up after ForwardAckTimeout. The last call's number is the sender's.
    private readonly Lock _doubtLock = new();
    private readonly List<DoubtedCall> _doubts = [];
    private long _lastCall;

    // The acceptance QoS 1 and 2 messages join when queued; replaced, under the lock, when the sender takes its first message.
    private readonly Lock _acceptanceLock = new();
    private Acceptance _open = new();
    private long _held;
    private long _notAccepted;
    private long _dropped;
    private long _sent;
    private long _lost;
    private long _batches;

    public ForwardQueue(RoutingSettings settings, string node, TimeProvider time, ReceiptFence? receipts = null)
    {
        _settings = settings;
        _node = node;
        _time = time;
        _receipts = receipts;
        _messages = Channel.CreateBounded<Forward>(new BoundedChannelOptions(settings.ForwardQueueLimit)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once instead of dropping silently
            SingleReader = true,
            SingleWriter = false,
        });
    }

    /// <summary>Messages refused because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Messages the other node took.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Messages in batches whose call failed (the node died or did not answer): maybe delivered, maybe not.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>Calls made.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>QoS 1 and 2 messages queued or in a call whose publishers wait for the node to accept them.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <summary>QoS 1 and 2 messages the node did not accept (in time): their publishers were not acknowledged.</summary>
    public long NotAccepted => Interlocked.Read(ref _notAccepted);

    /// <summary>Its counts, and the messages waiting now.</summary>
    public ForwardTotals Totals => new(Sent, Dropped, Lost, _messages.Reader.Count, Held, NotAccepted);

    /// <summary>Queues a message; the sender takes it at the next <see cref="Wake"/>.</summary>
    public bool TryEnqueue(in Forward forward)
    {
        if (_messages.Writer.TryWrite(forward))
        {
            return true;
        }

        Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <summary>
    /// Queues a QoS 1 or 2 message whose publisher is acknowledged once the node accepted it: returns what the acknowledgement waits
    /// for, or, when the queue is full, null (dropped and counted; the caller withholds the acknowledgement).
    /// </summary>
    public Task? TryEnqueueHeld(MqttMessage message, bool toSubscribers, string[] sharedGroups)
    {
        lock (_acceptanceLock)
        {
            var acceptance = _open;
            if (_messages.Writer.TryWrite(new Forward(message, toSubscribers, sharedGroups, acceptance)))
            {
                acceptance.Add(_settings.ForwardAckTimeout, _node, _time);
                Interlocked.Increment(ref _held);
                return acceptance.Task;
            }
        }

        Interlocked.Increment(ref _dropped);
        Interlocked.Increment(ref _notAccepted);
        return null;
    }

    /// <summary>Wakes the sender for what was queued: at once, or when the read that routed it is done (<see cref="ClusterRouting"/>).</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>
    /// The node is dead: no more messages, and those still queued are counted lost and never sent; the sender ends. Under the lock that
    /// counts an acceptance's messages as they are queued, so that an acceptance all of whose messages were still here is known as one
    /// the node did not take.
    /// </summary>
    public void Abandon()
    {
        lock (_acceptanceLock)
        {
            _messages.Writer.TryComplete();
            _wake.Writer.TryComplete();
            Acceptance? run = null;
            var length = 0;
            while (_messages.Reader.TryRead(out var forward))
            {
                Interlocked.Increment(ref _lost);
                if (forward.Acceptance is not { } acceptance)
                {
                    continue;
                }

                Unhold(1, accepted: false);
                if (!ReferenceEquals(acceptance, run))
                {
                    run?.Fail(NotTakenReason, length);
                    (run, length) = (acceptance, 0);
                }

                length++;
            }

            run?.Fail(NotTakenReason, length);
        }
    }

    private string NotTakenReason => $"node {_node} was declared dead before it took the message";

    private void Unhold(int count, bool accepted)
    {
        Interlocked.Add(ref _held, -count);
        if (!accepted)
        {
            Interlocked.Add(ref _notAccepted, count);
        }
    }

    /// <summary>The sender takes a message of the open acceptance: later messages join a new one, so it can complete.</summary>
    private void CloseIfOpen(Acceptance acceptance)
    {
        if (!ReferenceEquals(acceptance, Volatile.Read(ref _open)))
        {
            return;
        }

        lock (_acceptanceLock)
        {
            if (ReferenceEquals(acceptance, _open))
            {
                acceptance.Close();
                _open = new Acceptance();
            }
        }
    }

    /// <summary>
    /// The call carrying <paramref name="acceptances"/> (one entry per message, null for QoS 0) succeeded or failed (<paramref name="notTaken"/>:
    /// certainly not delivered): each run of one acceptance is settled or failed. <paramref name="doubted"/>: the call was in doubt until now.
    /// </summary>
    private void Answer(IReadOnlyList<Acceptance?> acceptances, string? failure, bool notTaken = false, bool doubted = false)
    {
        foreach (var (acceptance, run) in Runs(acceptances))
        {
            if (doubted)
            {
                acceptance.Doubt(run, doubted: false);
            }

            if (failure is null)
            {
                acceptance.Settle(run);
            }
            else
            {
                acceptance.Fail(failure, notTaken ? run : 0);
            }

            // Accepted in time, or not: then its publishers were (or are being) disconnected without an acknowledgement.
            Unhold(run, accepted: !acceptance.Task.IsFaulted);
        }
    }

    /// <summary>Each acceptance of <paramref name="acceptances"/> with the number of its messages in a row (QoS 0 messages skipped).</summary>
    private static IEnumerable<(Acceptance Acceptance, int Run)> Runs(IReadOnlyList<Acceptance?> acceptances)
    {
        var i = 0;
        while (i < acceptances.Count)
        {
            var acceptance = acceptances[i];
            var run = 1;
            while (i + run < acceptances.Count && ReferenceEquals(acceptances[i + run], acceptance))
            {
                run++;
            }

            i += run;
            if (acceptance is not null)
            {
                yield return (acceptance, run);
            }
        }
    }

    /// <summary>
    /// The receipt the call of <paramref name="batch"/> asks for: one when it carries a QoS 2 message and the nodes keep receipts, so that
    /// the outcome of its failure can be told; the receipts of calls before the oldest one still in doubt are no longer needed.
    /// </summary>
    private ForwardReceipt? ReceiptFor(List<ForwardedMessage> batch)
    {
        if (_receipts is null || !_receipts.Kept() || !batch.Exists(static x => x.QualityOfService == (byte)QualityOfService.ExactlyOnce))
        {
            return null;
        }

        var sequence = ++_lastCall;
        var pruneBelow = sequence;
        lock (_doubtLock)
        {
            foreach (var doubted in _doubts)
            {
                pruneBelow = Math.Min(pruneBelow, doubted.Sequence);
            }
        }

        return new ForwardReceipt(_receipts.From, _node, sequence, pruneBelow);
    }

    /// <summary>
    /// The call with <paramref name="receipt"/> failed, and may have reached the node: its acceptances wait (the bound too) until the node is
    /// declared dead and fenced (<see cref="ResolveDoubtsAsync"/>), or for <see cref="RoutingSettings.ForwardAckTimeout"/> at most.
    /// </summary>
    private void Doubt(ForwardReceipt receipt, List<Acceptance?> acceptances, string reason)
    {
        var call = new DoubtedCall(receipt.Sequence, [.. acceptances], reason);
        foreach (var (acceptance, run) in Runs(call.Acceptances))
        {
            acceptance.Doubt(run, doubted: true);
        }

        lock (_doubtLock)
        {
            _doubts.Add(call);
        }

        call.GiveUp = _time.CreateTimer(static state =>
        {
            var (queue, call) = ((ForwardQueue, DoubtedCall))state!;
            queue.Resolve(call, $"{call.Reason}; the node was not declared dead within Cluster:Routing:ForwardAckTimeout " +
                $"({queue._settings.ForwardAckTimeout.TotalSeconds:0.###} s), so whether it took the call is unknown");
        }, (this, call), _settings.ForwardAckTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Ends the doubt of <paramref name="call"/>, once: accepted (<paramref name="failure"/> null), or failed, <paramref name="notTaken"/> or not.</summary>
    private bool Resolve(DoubtedCall call, string? failure, bool notTaken = false)
    {
        if (Interlocked.Exchange(ref call.Resolved, 1) != 0)
        {
            return false;
        }

        call.GiveUp?.Dispose();
        lock (_doubtLock)
        {
            _doubts.Remove(call);
        }

        if (failure is null)
        {
            // Not lost after all.
            Interlocked.Add(ref _lost, -call.Acceptances.Length);
            Interlocked.Add(ref _sent, call.Acceptances.Length);
        }

        Answer(call.Acceptances, failure, notTaken, doubted: true);
        return true;
    }

    /// <summary>
    /// The node is dead and its last call over: fences it and settles each call in doubt as the store tells, accepted when the node
    /// committed it (its sessions, adopted from the store, have its messages), not taken otherwise (its QoS 2 messages may be routed
    /// afresh). When the store cannot tell (within ForwardAckTimeout), they fail as before: maybe delivered.
    /// </summary>
    private async Task ResolveDoubtsAsync(CancellationToken stopping)
    {
        DoubtedCall[] open;
        lock (_doubtLock)
        {
            open = [.. _doubts];
        }

        if (open.Length == 0 || _receipts is null)
        {
            return;
        }

        long[] committed;
        string? unknown = null;
        try
        {
            using var limit = new CancellationTokenSource(_settings.ForwardAckTimeout, _time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping, limit.Token);
            committed = await _receipts.FenceAsync([.. open.Select(x => x.Sequence)], either.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!stopping.IsCancellationRequested)
        {
            (committed, unknown) = ([], e.Message);
        }

        var (taken, notTaken) = (0, 0);
        foreach (var call in open)
        {
            if (unknown is not null)
            {
                Resolve(call, $"{call.Reason}; whether the node took it is unknown: {unknown}");
            }
            else if (Array.IndexOf(committed, call.Sequence) >= 0)
            {
                taken += Resolve(call, failure: null) ? call.Acceptances.Length : 0;
            }
            else
            {
                notTaken += Resolve(call, $"{call.Reason}; node {_node} died without committing it", notTaken: true) ? call.Acceptances.Length : 0;
            }
        }

        _receipts.Resolved?.Invoke(taken, notTaken, unknown);
    }

    /// <summary>
    /// Sends batches through <paramref name="send"/> (with the receipt the call asks for, if any) until <see cref="Abandon"/> or
    /// <paramref name="stopping"/>; after <see cref="Abandon"/> it resolves the calls in doubt.
    /// </summary>
    public async Task RunAsync(Func<ForwardedMessage[], ForwardReceipt?, Task> send, Action<int, Exception> failed, TimeProvider time, CancellationToken stopping)
    {
        var reader = _messages.Reader;
        var batch = new List<ForwardedMessage>(_settings.ForwardBatchSize);
        var acceptances = new List<Acceptance?>(_settings.ForwardBatchSize);
        try
        {
            while (true)
            {
                if (reader.Count == 0)
                {
                    if (!await _wake.Reader.WaitToReadAsync(stopping).ConfigureAwait(false))
                    {
                        break;
                    }

                    _wake.Reader.TryRead(out _);
                    continue;
                }

                if (_settings.ForwardWindow > TimeSpan.Zero && reader.Count < _settings.ForwardBatchSize)
                {
                    await Task.Delay(_settings.ForwardWindow, time, stopping).ConfigureAwait(false);
                }

                while (batch.Count < _settings.ForwardBatchSize && reader.TryRead(out var forward))
                {
                    if (forward.Acceptance is { } acceptance)
                    {
                        CloseIfOpen(acceptance);
                    }

                    // Read after the message: one queued after an earlier reading would show more time left than it was given
                    // (301 s of 300, against [MQTT-3.3.2-6]).
                    var now = time.GetTimestamp();
                    if (!forward.Message.IsExpired(now))
                    {
                        batch.Add(ToForwarded(forward, now, time.TimestampFrequency));
                        acceptances.Add(forward.Acceptance);
                    }
                    else if (forward.Acceptance is { } expired)
                    {
                        // Expired on the way: the node would drop it too; its publisher need not wait for it.
                        expired.Settle(1);
                        Unhold(1, accepted: !expired.Task.IsFaulted);
                    }
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                Interlocked.Increment(ref _batches);
                var receipt = ReceiptFor(batch);
                try
                {
                    await send([.. batch], receipt).ConfigureAwait(false);
                    Interlocked.Add(ref _sent, batch.Count);
                    Answer(acceptances, failure: null);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // No retry, which could deliver a batch the node did get twice: the publishers of its QoS 1 and 2 messages are
                    // not acknowledged and send them again (docs/clustering.md#acknowledged-forwarding). No failure tells that the node
                    // did not get the call, a refusal as not an active member neither (a QoS 2 stream through a death got duplicates
                    // when it was taken for one): with a receipt the node's fate and the store tell (docs/clustering.md#forward-receipts),
                    // without one the messages may have been delivered.
                    Interlocked.Add(ref _lost, batch.Count);
                    var reason = $"the call to node {_node} failed: {e.Message}";
                    if (receipt is not null)
                    {
                        Doubt(receipt, acceptances, reason);
                    }
                    else
                    {
                        Answer(acceptances, reason);
                    }

                    failed(batch.Count, e);
                }

                acceptances.Clear();
                batch.Clear();
            }

            // Abandoned: the node is dead, and the call in flight at its death is over.
            await ResolveDoubtsAsync(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private static ForwardedMessage ToForwarded(in Forward forward, long now, long frequency)
    {
        var message = forward.Message;
        return new(message.Topic, message.Properties.ToArray(), message.Payload.ToArray(), (byte)message.QualityOfService, message.Retain, message.PublisherId,
            message.ExpiresAt == 0 ? null : message.RemainingSeconds(now, frequency), forward.ToSubscribers, forward.SharedGroups);
    }
}

/// <summary>
/// What a queue needs to resolve its calls in doubt (docs/clustering.md#forward-receipts): this node's id, which its calls' receipts
/// name, and the fence of the queue's node.
/// </summary>
/// <param name="From">This node (its silo address).</param>
/// <param name="Kept">Whether the store keeps receipts now (asked per call: the broker attaches its store after the node joined).</param>
/// <param name="FenceAsync">Fences the queue's node, declared dead, and returns those of the given calls it committed.</param>
/// <param name="Resolved">Told, after a fence, how many messages of the calls in doubt the node took and did not; and why that is unknown, if it is.</param>
internal sealed record ReceiptFence(string From, Func<bool> Kept, Func<long[], CancellationToken, Task<long[]>> FenceAsync,
    Action<int, int, string?>? Resolved = null);

/// <summary>A call with a receipt asked for that failed: its messages' acceptances wait for the node's fate.</summary>
internal sealed class DoubtedCall(long sequence, Acceptance?[] acceptances, string reason)
{
    public long Sequence { get; } = sequence;

    /// <summary>One per message of the call, null for QoS 0.</summary>
    public Acceptance?[] Acceptances { get; } = acceptances;

    /// <summary>Why the call failed.</summary>
    public string Reason { get; } = reason;

    /// <summary>Ends the doubt as maybe delivered when the node is not declared dead in time.</summary>
    public ITimer? GiveUp { get; set; }

    /// <summary>1 once resolved (by the fence or the give-up, whichever comes first).</summary>
    public int Resolved;
}

/// <summary>A message queued for a node, and who there gets it (see <see cref="ForwardedMessage"/>).</summary>
/// <param name="Acceptance">What its publisher's acknowledgement waits for; null for a message nobody waits for (QoS 0, a retained one to keep).</param>
internal readonly record struct Forward(MqttMessage Message, bool ToSubscribers, string[] SharedGroups, Acceptance? Acceptance = null);

/// <summary>
/// What queues for other nodes counted: messages taken by the node, dropped on a full queue, lost with a failed call or a dead node,
/// waiting, held (publishers waiting for the node to accept them) and not accepted (publishers not acknowledged).
/// </summary>
internal readonly record struct ForwardTotals(long Forwarded, long Dropped, long Lost, long Queued, long Held = 0, long NotAccepted = 0)
{
    public static ForwardTotals operator +(ForwardTotals a, ForwardTotals b) =>
        new(a.Forwarded + b.Forwarded, a.Dropped + b.Dropped, a.Lost + b.Lost, a.Queued + b.Queued, a.Held + b.Held, a.NotAccepted + b.NotAccepted);
}
