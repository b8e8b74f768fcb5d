using System.Threading.Channels;
using IoTHub.Broker.Messages;

namespace IoTHub.Cluster.Routing;

/// <summary>
/// The messages waiting to be forwarded to one other node, and the sender that takes them there in batches: what is waiting (after
/// <see cref="RoutingSettings.ForwardWindow"/>, when one is set), up to <see cref="RoutingSettings.ForwardBatchSize"/>, in one call,
/// one call at a time (so they arrive in order). A publisher only queues: when the queue is full the message is
/// dropped and counted, never waited for.
/// </summary>
internal sealed class ForwardQueue
{
    private readonly Channel<Forward> _messages;

    // Wakes the sender: one pending wake is enough, whatever was queued before it.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly RoutingSettings _settings;
    private long _dropped;
    private long _sent;
    private long _lost;
    private long _batches;

    public ForwardQueue(RoutingSettings settings)
    {
        _settings = settings;
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

    /// <summary>Its counts, and the messages waiting now.</summary>
    public ForwardTotals Totals => new(Sent, Dropped, Lost, _messages.Reader.Count);

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

    /// <summary>Wakes the sender for what was queued: at once, or when the read that routed it is done (<see cref="ClusterRouting"/>).</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>The node is dead: no more messages, and those still queued are counted lost; the sender ends.</summary>
    public void Abandon()
    {
        _messages.Writer.TryComplete();
        _wake.Writer.TryComplete();
        while (_messages.Reader.TryRead(out _))
        {
            Interlocked.Increment(ref _lost);
        }
    }

    /// <summary>Sends batches through <paramref name="send"/> until <see cref="Abandon"/> or <paramref name="stopping"/>.</summary>
    public async Task RunAsync(Func<ForwardedMessage[], Task> send, Action<int, Exception> failed, TimeProvider time, CancellationToken stopping)
    {
        var reader = _messages.Reader;
        var batch = new List<ForwardedMessage>(_settings.ForwardBatchSize);
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
                    // Read after the message: one queued after an earlier reading would show more time left than it was given
                    // (301 s of 300, against [MQTT-3.3.2-6]).
                    var now = time.GetTimestamp();
                    if (!forward.Message.IsExpired(now))
                    {
                        batch.Add(ToForwarded(forward, now, time.TimestampFrequency));
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
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Best effort (docs/clustering.md): no retry, which could deliver a batch the node did get twice.
                    Interlocked.Add(ref _lost, batch.Count);
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
internal readonly record struct Forward(MqttMessage Message, bool ToSubscribers, string[] SharedGroups);

/// <summary>What queues for other nodes counted: messages taken by the node, dropped on a full queue, lost with a failed call or a dead node, and waiting.</summary>
internal readonly record struct ForwardTotals(long Forwarded, long Dropped, long Lost, long Queued)
{
    public static ForwardTotals operator +(ForwardTotals a, ForwardTotals b) =>
        new(a.Forwarded + b.Forwarded, a.Dropped + b.Dropped, a.Lost + b.Lost, a.Queued + b.Queued);
}
