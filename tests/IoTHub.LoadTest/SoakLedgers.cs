using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.LoadTest;

/// <summary>How often each sequence number was seen (at most 255), growing as numbers come. Not thread-safe: its owner locks.</summary>
internal sealed class SequenceTally
{
    private byte[] _counts = new byte[4096];

    /// <summary>One past the highest sequence number seen.</summary>
    public long Length { get; private set; }

    public void Add(long sequence)
    {
        if (sequence >= _counts.Length)
        {
            Array.Resize(ref _counts, (int)Math.Max(_counts.Length * 2L, sequence + 1));
        }

        if (_counts[sequence] < byte.MaxValue)
        {
            _counts[sequence]++;
        }

        Length = Math.Max(Length, sequence + 1);
    }

    public int CountOf(long sequence) => sequence < Length ? _counts[sequence] : 0;
}

/// <summary>
/// One soak publisher's QoS 1/2 messages: those written and waiting for their PUBACK or PUBCOMP (by packet id), and those
/// acknowledged (by sequence number), with the newest acknowledged per topic for the retained check.
/// </summary>
internal sealed class PublisherLedger : IMessageObserver
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ushort, (long Sequence, byte[] Topic)> _unacknowledged = [];
    private readonly Dictionary<byte[], long> _newest = [];
    private readonly SequenceTally _acknowledged = new();
    private long _acknowledgedCount;
    private long _unknownAcks;

    public long AcknowledgedCount
    {
        get
        {
            lock (_lock)
            {
                return _acknowledgedCount;
            }
        }
    }

    /// <summary>PUBACK/PUBCOMP for a packet id that had no message waiting.</summary>
    public long UnknownAcks
    {
        get
        {
            lock (_lock)
            {
                return _unknownAcks;
            }
        }
    }

    public int Unacknowledged
    {
        get
        {
            lock (_lock)
            {
                return _unacknowledged.Count;
            }
        }
    }

    /// <summary>The messages written and not acknowledged, by packet id: what a new connection of the session sends again.</summary>
    public List<(ushort PacketId, long Sequence, byte[] Topic)> Pending()
    {
        lock (_lock)
        {
            return [.. _unacknowledged.OrderBy(p => p.Value.Sequence).Select(p => (p.Key, p.Value.Sequence, p.Value.Topic))];
        }
    }

    /// <summary>The sequence number of the newest acknowledged message on <paramref name="topic"/> (-1: none yet).</summary>
    public long NewestAcknowledged(byte[] topic)
    {
        lock (_lock)
        {
            return _newest.GetValueOrDefault(topic, -1);
        }
    }

    /// <summary>Calls <paramref name="visit"/> with each acknowledged sequence number.</summary>
    public void ForEachAcknowledged(Action<long> visit)
    {
        lock (_lock)
        {
            for (long sequence = 0; sequence < _acknowledged.Length; sequence++)
            {
                if (_acknowledged.CountOf(sequence) > 0)
                {
                    visit(sequence);
                }
            }
        }
    }

    public void OnSending(ushort packetId, long sequence, byte[] topic)
    {
        if (packetId != 0)
        {
            lock (_lock)
            {
                _unacknowledged[packetId] = (sequence, topic);
            }
        }
    }

    public void OnAcknowledged(ushort packetId) => Acknowledge(packetId);

    /// <summary>Records the acknowledgement of <paramref name="packetId"/>; returns its message's sequence number, -1 when none waited for it.</summary>
    public long Acknowledge(ushort packetId)
    {
        lock (_lock)
        {
            if (!_unacknowledged.Remove(packetId, out var sent))
            {
                _unknownAcks++;
                return -1;
            }

            _acknowledged.Add(sent.Sequence);
            _acknowledgedCount++;
            if (sent.Sequence > _newest.GetValueOrDefault(sent.Topic, -1))
            {
                _newest[sent.Topic] = sent.Sequence;
            }

            return sent.Sequence;
        }
    }

    public void OnReceived(in PublishPacket publish)
    {
    }

    public void OnReleased(ushort packetId)
    {
    }

    /// <summary>The sequence number a soak payload carries (<see cref="LoadClient.SequencedPayload"/>), or -1 when it has none.</summary>
    public static long SequenceOf(in PublishPacket publish)
    {
        if (publish.Payload.Length < LoadClient.SequencedPayload)
        {
            return -1;
        }

        Span<byte> header = stackalloc byte[LoadClient.SequencedPayload];
        publish.Payload.Slice(0, LoadClient.SequencedPayload).CopyTo(header);
        return BinaryPrimitives.ReadInt64LittleEndian(header[LoadClient.PayloadHeader..]);
    }
}

/// <summary>
/// A persistent subscriber's session as its client keeps it, across its connections: how often each sequence number of its
/// publisher arrived, and the QoS 2 packet ids received and not yet released. Until PUBREL, a PUBLISH with such an id is the
/// same message sent again, acknowledged but not delivered twice (MQTT-4.3.3-2); any other repeat of a sequence number is a duplicate.
/// </summary>
internal sealed class SubscriberSession(string clientId, string topic, QualityOfService qos) : IMessageObserver
{
    private readonly Lock _lock = new();
    private readonly SequenceTally _received = new();
    private readonly HashSet<ushort> _unreleased = [];
    private long _redeliveries;

    public string ClientId => clientId;

    public string Topic => topic;

    public QualityOfService Qos => qos;

    /// <summary>The connection in use (replaced by reconnects and takeovers).</summary>
    public LoadClient? Client { get; set; }

    /// <summary>QoS 2 PUBLISH packets sent again for an unreleased packet id, and not counted again.</summary>
    public long Redeliveries
    {
        get
        {
            lock (_lock)
            {
                return _redeliveries;
            }
        }
    }

    /// <summary>How often the message with this sequence number arrived.</summary>
    public int CountOf(long sequence)
    {
        lock (_lock)
        {
            return _received.CountOf(sequence);
        }
    }

    public void OnReceived(in PublishPacket publish)
    {
        var sequence = PublisherLedger.SequenceOf(publish);
        lock (_lock)
        {
            if (publish.QualityOfService == QualityOfService.ExactlyOnce && !_unreleased.Add(publish.PacketId))
            {
                _redeliveries++;
                return;
            }

            if (sequence >= 0)
            {
                _received.Add(sequence);
            }
        }
    }

    public void OnReleased(ushort packetId)
    {
        lock (_lock)
        {
            _unreleased.Remove(packetId);
        }
    }

    public void OnSending(ushort packetId, long sequence, byte[] topic)
    {
    }

    public void OnAcknowledged(ushort packetId)
    {
    }
}

/// <summary>
/// The wills of the churning clients: those that must come (the client closed its socket without DISCONNECT) and those that came,
/// by the connect number each will carries as its payload. A client that sent DISCONNECT must have none (MQTT-3.1.2-10).
/// </summary>
internal sealed class WillLedger : IMessageObserver
{
    private readonly Lock _lock = new();
    private readonly HashSet<long> _expected = [];
    private readonly HashSet<long> _received = [];
    private long _repeated;

    public static byte[] Payload(long connect)
    {
        var payload = new byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(payload, connect);
        return payload;
    }

    /// <summary>Called before the client closes its socket, so its will cannot come first.</summary>
    public void Expect(long connect)
    {
        lock (_lock)
        {
            _expected.Add(connect);
        }
    }

    /// <summary>Wills expected, expected and received, received though not expected (after a DISCONNECT), and received twice.</summary>
    public (int Expected, int Received, int Unexpected, long Repeated) Counts()
    {
        lock (_lock)
        {
            var received = 0;
            foreach (var connect in _received)
            {
                if (_expected.Contains(connect))
                {
                    received++;
                }
            }

            return (_expected.Count, received, _received.Count - received, _repeated);
        }
    }

    public void OnReceived(in PublishPacket publish)
    {
        Span<byte> payload = stackalloc byte[sizeof(long)];
        if (publish.Payload.Length != payload.Length)
        {
            return;
        }

        publish.Payload.CopyTo(payload);
        var connect = BinaryPrimitives.ReadInt64LittleEndian(payload);
        lock (_lock)
        {
            if (!_received.Add(connect))
            {
                _repeated++;
            }
        }
    }

    public void OnSending(ushort packetId, long sequence, byte[] topic)
    {
    }

    public void OnAcknowledged(ushort packetId)
    {
    }

    public void OnReleased(ushort packetId)
    {
    }
}

/// <summary>
/// The retained check: a client subscribes to every retained topic again and again, and in each round each topic's value must be
/// at least as new as the newest one acknowledged to the publisher before the SUBSCRIBE. A topic counts as delivered with its
/// retained message (RETAIN 1, MQTT-3.3.1-8) or with a newer live one; a retained message older than a live one already
/// delivered on its topic in the round is an error too (a reader would go back in time).
/// </summary>
internal sealed class RetainedCheck(IReadOnlyList<byte[]> topics) : IMessageObserver
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _index = Enumerable.Range(0, topics.Count).ToDictionary(i => Encoding.UTF8.GetString(topics[i]));
    private readonly long[] _floor = new long[topics.Count];
    private readonly long[] _newest = new long[topics.Count];
    private TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _active;
    private int _delivered;

    public long Rounds { get; private set; }

    /// <summary>Retained messages older than the newest acknowledged before the SUBSCRIBE.</summary>
    public long Stale { get; private set; }

    /// <summary>Retained messages older than a live message already delivered on their topic in the round.</summary>
    public long OlderThanLive { get; private set; }

    /// <summary>Topics whose first message in a round was a newer live one instead of the retained one.</summary>
    public long LiveFirst { get; private set; }

    /// <summary>Starts a round: <paramref name="floor"/> holds each topic's newest acknowledged sequence number.</summary>
    public Task StartRound(long[] floor)
    {
        lock (_lock)
        {
            floor.CopyTo(_floor, 0);
            Array.Fill(_newest, -1);
            _delivered = 0;
            _active = true;
            Rounds++;
            _complete = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _complete.Task;
        }
    }

    /// <summary>Ends a round; returns the topics that were not delivered in it.</summary>
    public int EndRound()
    {
        lock (_lock)
        {
            _active = false;
            return topics.Count - _delivered;
        }
    }

    public void OnReceived(in PublishPacket publish)
    {
        var sequence = PublisherLedger.SequenceOf(publish);
        var name = publish.TopicString();
        lock (_lock)
        {
            if (!_active || !_index.TryGetValue(name, out var topic))
            {
                return;
            }

            if (publish.Retain)
            {
                if (sequence < _floor[topic])
                {
                    Stale++;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    stale retained message on {name}: {sequence}, acknowledged before the SUBSCRIBE {_floor[topic]}"));
                }

                if (sequence < _newest[topic])
                {
                    OlderThanLive++;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    retained message on {name} older ({sequence}) than a live one delivered before it ({_newest[topic]})"));
                }
            }
            else if (sequence < _floor[topic])
            {
                // Routed before the SUBSCRIBE (a replaced subscription's): says nothing of the retained value.
                return;
            }

            if (_newest[topic] < 0)
            {
                LiveFirst += publish.Retain ? 0 : 1;
                if (++_delivered == topics.Count)
                {
                    _complete.TrySetResult();
                }
            }

            _newest[topic] = Math.Max(_newest[topic], sequence);
        }
    }

    public void OnSending(ushort packetId, long sequence, byte[] topic)
    {
    }

    public void OnAcknowledged(ushort packetId)
    {
    }

    public void OnReleased(ushort packetId)
    {
    }
}
