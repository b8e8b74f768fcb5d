using System.Threading.Channels;
using IoTHub.Broker.Messages;
using IoTHub.Cluster.Nodes;

namespace IoTHub.Cluster.Routing;

/// <summary>
/// The messages waiting to be forwarded to one other node, and the sender that takes them there in batches: what is waiting (after
/// <see cref="RoutingSettings.ForwardWindow"/>, when one is set), up to <see cref="RoutingSettings.ForwardBatchSize"/>, in one call,
/// one call at a time (so they arrive in order). A publisher only queues: when the queue is full the message is
/// dropped and counted, never waited for. A QoS 1 or 2 message is queued with the queue's open <see cref="Acceptance"/>, which
/// its publisher's acknowledgement waits for (docs/clustering.md#acknowledged-forwarding).
/// </summary>
internal sealed class ForwardQueue
{
    private readonly Channel<Forward> _messages;

    // Wakes the sender: one pending wake is enough, whatever was queued before it.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly RoutingSettings _settings;
    private readonly string _node;
    private readonly TimeProvider _time;

    // The acceptance QoS 1 and 2 messages join when queued; replaced, under the lock, when the sender takes its first message.
    private readonly Lock _acceptanceLock = new();
    private Acceptance _open = new();
    private long _held;
    private long _notAccepted;
    private long _dropped;
    private long _sent;
    private long _lost;
    private long _batches;

    public ForwardQueue(RoutingSettings settings, string node, TimeProvider time)
    {
        _settings = settings;
        _node = node;
        _time = time;
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
    /// The call carrying <paramref name="acceptances"/> (one entry per message, null for QoS 0) succeeded or failed (<paramref name="neverLeft"/>:
    /// refused before it was sent): each run of one acceptance is settled or failed.
    /// </summary>
    private void Answer(List<Acceptance?> acceptances, string? failure, bool neverLeft = false)
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
            if (acceptance is null)
            {
                continue;
            }

            if (failure is null)
            {
                acceptance.Settle(run);
            }
            else
            {
                acceptance.Fail(failure, neverLeft ? run : 0);
            }

            // Accepted in time, or not: then its publishers were (or are being) disconnected without an acknowledgement.
            Unhold(run, accepted: !acceptance.Task.IsFaulted);
        }

        acceptances.Clear();
    }

    /// <summary>Sends batches through <paramref name="send"/> until <see cref="Abandon"/> or <paramref name="stopping"/>.</summary>
    public async Task RunAsync(Func<ForwardedMessage[], Task> send, Action<int, Exception> failed, TimeProvider time, CancellationToken stopping)
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
                        return;
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
                try
                {
                    await send([.. batch]).ConfigureAwait(false);
                    Interlocked.Add(ref _sent, batch.Count);
                    Answer(acceptances, failure: null);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // No retry, which could deliver a batch the node did get twice: the publishers of its QoS 1 and 2 messages are
                    // not acknowledged and send them again (docs/clustering.md#acknowledged-forwarding). A call refused before it left
                    // (the node no longer a member) certainly delivered nothing: its QoS 2 messages may be routed afresh.
                    Interlocked.Add(ref _lost, batch.Count);
                    Answer(acceptances, $"the call to node {_node} failed: {e.Message}", neverLeft: e is NodeNotActiveException);
                    failed(batch.Count, e);
                }

                batch.Clear();
            }
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
