using System.Diagnostics.CodeAnalysis;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Storage;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Sessions;

/// <summary>
/// The state that belongs to a client id and may outlive its connection: subscriptions, messages
/// waiting to be sent, QoS 1/2 messages in flight in both directions. All of it is guarded by
/// <see cref="Sync"/>; the attached connection's write loop is the only one that sends.
/// </summary>
public sealed class Session
{
    private readonly Queue<Delivery> _pending = new();
    // The QoS 1/2 state is made with the first QoS 1/2 message: most idle clients never have any, and
    // the three empty collections would cost every connection 184 B.
    private Dictionary<ushort, LinkedListNode<Inflight>>? _inflightById;
    private LinkedList<Inflight>? _inflightOrder;
    private HashSet<ushort>? _receivedQos2;
    private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private long _pendingBytes;
    private ushort _lastPacketId;
    private bool _queueFullLogged;

    private readonly Persistence _persistence;
    private long _lastSequence;
    private bool _wasStored;

    internal Session(string clientId, Persistence? persistence = null)
    {
        ClientId = clientId;
        _persistence = persistence ?? Persistence.None;
    }

    /// <summary>A session outliving its connection is stored (when the broker has storage).</summary>
    private bool Stored => ExpiryInterval > 0 && _persistence.Enabled;

    public string ClientId { get; }

    /// <summary>Seconds the session is kept after its connection ends: 0 ends it with the connection.</summary>
    public uint ExpiryInterval { get; internal set; }

    internal Lock Sync { get; } = new();

    internal MqttConnection? Connection { get; private set; }

    /// <summary>When the client went offline (a <see cref="TimeProvider"/> timestamp); 0 while connected.</summary>
    internal long DisconnectedAt { get; private set; }

    internal bool Discarded { get; private set; }

    public bool IsConnected
    {
        get
        {
            lock (Sync)
            {
                return Connection is not null;
            }
        }
    }

    public int QueuedMessages
    {
        get
        {
            lock (Sync)
            {
                return _pending.Count;
            }
        }
    }

    public int InflightMessages
    {
        get
        {
            lock (Sync)
            {
                return InflightCount;
            }
        }
    }

    /// <summary>Rebuilds a stored session at start, offline since <paramref name="disconnectedAt"/>; writes nothing back.</summary>
    internal void Restore(StoredSession stored, long disconnectedAt, SubscriptionTree tree)
    {
        lock (Sync)
        {
            ExpiryInterval = stored.ExpiryInterval;
            DisconnectedAt = disconnectedAt;
            _wasStored = true;
            foreach (var subscription in stored.Subscriptions)
            {
                var restored = new Subscription(this, subscription.TopicFilter, subscription.Options, subscription.SubscriptionId);
                _subscriptions[subscription.TopicFilter] = restored;
                tree.Add(restored);
            }

            foreach (var inflight in stored.Outgoing)
            {
                var delivery = new Delivery(inflight.Message, inflight.QualityOfService, inflight.Retain) { Sequence = inflight.Sequence };
                AddInflight(new Inflight(inflight.PacketId, delivery) { Released = inflight.Released });
                _lastSequence = Math.Max(_lastSequence, inflight.Sequence);
            }

            foreach (var queued in stored.Queued)
            {
                _pending.Enqueue(new Delivery(queued.Message, queued.QualityOfService, queued.Retain) { Sequence = queued.Sequence });
                _pendingBytes += queued.Message.Size;
                _lastSequence = Math.Max(_lastSequence, queued.Sequence);
            }

            foreach (var packetId in stored.IncomingQos2)
            {
                (_receivedQos2 ??= []).Add(packetId);
            }
        }
    }

    /// <summary>Attaches a connection; messages in flight are resent first, with DUP, on its write loop.</summary>
    internal void Attach(MqttConnection connection)
    {
        lock (Sync)
        {
            Connection = connection;
            DisconnectedAt = 0;
            if (Stored)
            {
                _wasStored = true;
                _persistence.Write(StorageOperation.UpsertSession(ClientId, ExpiryInterval, disconnectedAt: null));
            }
        }
    }

    /// <summary>Detaches <paramref name="connection"/> if it is still the attached one.</summary>
    internal bool Detach(MqttConnection connection, long now)
    {
        lock (Sync)
        {
            if (!ReferenceEquals(Connection, connection))
            {
                return false;
            }

            Connection = null;
            DisconnectedAt = now;
            if (Stored)
            {
                _persistence.Write(StorageOperation.UpsertSession(ClientId, ExpiryInterval, DateTimeOffset.UtcNow));
            }

            return true;
        }
    }

    /// <summary>
    /// Marks the session as ended: its messages are dropped and its subscriptions leave the tree. Returns
    /// how many messages it threw away: queued, and in flight before the client acknowledged them (a
    /// QoS 2 message past PUBREC has arrived).
    /// </summary>
    internal int Discard(SubscriptionTree tree)
    {
        lock (Sync)
        {
            var dropped = _pending.Count;
            if (_inflightOrder is not null)
            {
                foreach (var inflight in _inflightOrder)
                {
                    dropped += inflight.Released ? 0 : 1;
                }
            }

            if (_wasStored)
            {
                _persistence.Write(StorageOperation.DeleteSession(ClientId));
            }

            Discarded = true;
            _pending.Clear();
            _pendingBytes = 0;
            _inflightById = null;
            _inflightOrder = null;
            _receivedQos2 = null;
            foreach (var filter in _subscriptions.Keys)
            {
                tree.Remove(this, filter);
            }

            _subscriptions.Clear();
            return dropped;
        }
    }

    internal EnqueueResult Enqueue(in Delivery delivery, BrokerOptions options)
    {
        MqttConnection? connection;
        var result = EnqueueResult.Queued;
        lock (Sync)
        {
            connection = Connection;
            if (Discarded)
            {
                return EnqueueResult.SessionEnded;
            }

            if (connection is null && delivery.QualityOfService == QualityOfService.AtMostOnce && !options.QueueQoS0WhileOffline)
            {
                return EnqueueResult.SkippedOffline;
            }

            var size = delivery.Message.Size;
            if (_pending.Count >= options.MaximumQueuedMessages || _pendingBytes + size > options.MaximumQueuedBytes)
            {
                if (options.QueueOverflowPolicy == QueueOverflowPolicy.DropNewest || !TryDropOldestQoS0())
                {
                    return EnqueueResult.DroppedNew;
                }

                result = EnqueueResult.DroppedOldest;
            }

            var queued = delivery;
            if (Stored && delivery.QualityOfService != QualityOfService.AtMostOnce)
            {
                queued = delivery with { Sequence = ++_lastSequence };
                _persistence.Write(StorageOperation.EnqueueMessage(ClientId, queued.Sequence, delivery.Message, delivery.QualityOfService, delivery.Retain));
            }

            _pending.Enqueue(queued);
            _pendingBytes += size;
            if (result == EnqueueResult.Queued)
            {
                _queueFullLogged = false;
            }
        }

        connection?.SignalWrite();
        return result;
    }

    /// <summary>True the first time the queue overflows since it last accepted a message, so the log says it once.</summary>
    internal bool MarkQueueFull()
    {
        lock (Sync)
        {
            var first = !_queueFullLogged;
            _queueFullLogged = true;
            return first;
        }
    }

    private void StoreInflight(ushort packetId, in Delivery delivery, bool released) =>
        _persistence.Write(StorageOperation.SetOutgoingInflight(ClientId, packetId, delivery.Sequence, delivery.Message,
            delivery.QualityOfService, delivery.Retain, released));

    private void ForgetQueued(in Delivery delivery)
    {
        if (delivery.Sequence != 0)
        {
            _persistence.Write(StorageOperation.RemoveQueuedMessage(ClientId, delivery.Sequence));
        }
    }

    private bool TryDropOldestQoS0()
    {
        var count = _pending.Count;
        var dropped = false;
        for (var i = 0; i < count; i++)
        {
            var item = _pending.Dequeue();
            if (!dropped && item.QualityOfService == QualityOfService.AtMostOnce)
            {
                dropped = true;
                _pendingBytes -= item.Message.Size;
                continue;
            }

            _pending.Enqueue(item);
        }

        return dropped;
    }

    /// <summary>
    /// Everything in flight, in the order it was first sent: PUBLISH again with DUP, or PUBREL where
    /// PUBREC already came (MQTT 5.0 §4.4, 3.1.1 §4.4). Called once when a connection attaches; a
    /// connection that was taken over gets nothing.
    /// </summary>
    internal void CollectRedeliveries(MqttConnection connection, List<Outbound> batch)
    {
        lock (Sync)
        {
            if (!ReferenceEquals(Connection, connection) || _inflightOrder is null)
            {
                return;
            }

            foreach (var inflight in _inflightOrder)
            {
                batch.Add(inflight.Released
                    ? Outbound.Ack(PacketType.PubRel, inflight.PacketId, ReasonCode.Success)
                    : Outbound.Publish(inflight.Delivery, inflight.PacketId, duplicate: true));
            }
        }
    }

    /// <summary>
    /// Moves queued messages to the batch while the in-flight window has room, for the attached
    /// connection only. Messages whose expiry passed while they waited are dropped (5.0 §3.3.2.3.3);
    /// returns how many.
    /// </summary>
    internal int CollectSendable(MqttConnection connection, List<Outbound> batch, int window, long now)
    {
        var expired = 0;
        lock (Sync)
        {
            if (!ReferenceEquals(Connection, connection))
            {
                return 0;
            }

            while (_pending.TryPeek(out var delivery))
            {
                if (delivery.Message.IsExpired(now))
                {
                    _pending.Dequeue();
                    _pendingBytes -= delivery.Message.Size;
                    ForgetQueued(delivery);
                    expired++;
                    continue;
                }

                ushort packetId = 0;
                if (delivery.QualityOfService != QualityOfService.AtMostOnce)
                {
                    if (InflightCount >= window)
                    {
                        return expired;
                    }

                    packetId = NextPacketId();
                    AddInflight(new Inflight(packetId, delivery));
                    if (Stored)
                    {
                        StoreInflight(packetId, delivery, released: false);
                        ForgetQueued(delivery);
                    }
                }

                _pending.Dequeue();
                _pendingBytes -= delivery.Message.Size;
                batch.Add(Outbound.Publish(delivery, packetId, duplicate: false));
            }
        }

        return expired;
    }

    /// <summary>
    /// Takes out every message this session got through a shared subscription and has not yet
    /// acknowledged (queued, or in flight before PUBREC), so that another member can have it (5.0 §4.8.2).
    /// </summary>
    internal List<Delivery> TakeSharedDeliveries()
    {
        var taken = new List<Delivery>();
        lock (Sync)
        {
            for (var node = _inflightOrder?.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Delivery.Shared is not null && !node.Value.Released)
                {
                    taken.Add(node.Value.Delivery);
                    _inflightById!.Remove(node.Value.PacketId);
                    _inflightOrder!.Remove(node);
                    if (Stored)
                    {
                        _persistence.Write(StorageOperation.RemoveOutgoingInflight(ClientId, node.Value.PacketId));
                    }
                }

                node = next;
            }

            var count = _pending.Count;
            for (var i = 0; i < count; i++)
            {
                var delivery = _pending.Dequeue();
                if (delivery.Shared is null)
                {
                    _pending.Enqueue(delivery);
                    continue;
                }

                _pendingBytes -= delivery.Message.Size;
                ForgetQueued(delivery);
                taken.Add(delivery);
            }
        }

        return taken;
    }

    /// <summary>PUBACK, or PUBCOMP: the flow ends. False when the id was not in flight.</summary>
    internal bool Complete(ushort packetId, QualityOfService expected)
    {
        lock (Sync)
        {
            if (!TryGetInflight(packetId, out var node) || node.Value.Delivery.QualityOfService != expected)
            {
                return false;
            }

            _inflightById!.Remove(packetId);
            _inflightOrder!.Remove(node);
            if (Stored)
            {
                _persistence.Write(StorageOperation.RemoveOutgoingInflight(ClientId, packetId));
            }

            return true;
        }
    }

    /// <summary>PUBREC: from now on PUBREL is what gets resent. False when the id was not in flight.</summary>
    internal bool Release(ushort packetId)
    {
        lock (Sync)
        {
            if (!TryGetInflight(packetId, out var node) || node.Value.Delivery.QualityOfService != QualityOfService.ExactlyOnce)
            {
                return false;
            }

            node.Value.Released = true;
            if (Stored)
            {
                StoreInflight(packetId, node.Value.Delivery, released: true);
            }

            return true;
        }
    }

    /// <summary>Records an incoming QoS 2 packet id; false when it is already recorded (a duplicate before PUBREL).</summary>
    internal bool TryReceiveQos2(ushort packetId, int limit, out bool overLimit)
    {
        lock (Sync)
        {
            overLimit = false;
            if (_receivedQos2?.Contains(packetId) == true)
            {
                return false;
            }

            if ((_receivedQos2?.Count ?? 0) >= limit)
            {
                overLimit = true;
                return false;
            }

            (_receivedQos2 ??= []).Add(packetId);
            if (Stored)
            {
                // Stored before PUBREC goes out: exactly once holds across a restart.
                _persistence.Write(StorageOperation.AddIncomingQos2(ClientId, packetId));
            }

            return true;
        }
    }

    /// <summary>PUBREL from the client: forgets the packet id. False when it was not recorded.</summary>
    internal bool ReleaseReceivedQos2(ushort packetId)
    {
        lock (Sync)
        {
            var removed = _receivedQos2?.Remove(packetId) == true;
            if (removed && Stored)
            {
                _persistence.Write(StorageOperation.RemoveIncomingQos2(ClientId, packetId));
            }

            return removed;
        }
    }

    internal int SubscriptionCount
    {
        get
        {
            lock (Sync)
            {
                return _subscriptions.Count;
            }
        }
    }

    /// <summary>
    /// Adds or replaces a subscription, here and in the tree, under the session's lock so that a
    /// concurrent discard cannot leave it behind in the tree. Null when the session has ended;
    /// otherwise true when the filter was not subscribed before.
    /// </summary>
    internal bool? Subscribe(Subscription subscription, SubscriptionTree tree)
    {
        lock (Sync)
        {
            if (Discarded)
            {
                return null;
            }

            var isNew = !_subscriptions.ContainsKey(subscription.TopicFilter);
            _subscriptions[subscription.TopicFilter] = subscription;
            tree.Add(subscription);
            if (Stored)
            {
                _persistence.Write(StorageOperation.AddSubscription(ClientId, subscription.TopicFilter, subscription.Options, subscription.SubscriptionId));
            }

            return isNew;
        }
    }

    /// <summary>A copy of the session's subscriptions.</summary>
    internal Subscription[] GetSubscriptions()
    {
        lock (Sync)
        {
            return [.. _subscriptions.Values];
        }
    }

    internal bool HasSubscription(string topicFilter)
    {
        lock (Sync)
        {
            return _subscriptions.ContainsKey(topicFilter);
        }
    }

    internal bool Unsubscribe(string topicFilter, SubscriptionTree tree)
    {
        lock (Sync)
        {
            var removed = _subscriptions.Remove(topicFilter) && tree.Remove(this, topicFilter);
            if (removed && Stored)
            {
                _persistence.Write(StorageOperation.RemoveSubscription(ClientId, topicFilter));
            }

            return removed;
        }
    }

    private ushort NextPacketId()
    {
        // Ids in use are skipped; the window is far smaller than 65 535, so a free one is always near.
        do
        {
            _lastPacketId = _lastPacketId == ushort.MaxValue ? (ushort)1 : (ushort)(_lastPacketId + 1);
        }
        while (_inflightById?.ContainsKey(_lastPacketId) == true);

        return _lastPacketId;
    }

    private int InflightCount => _inflightById?.Count ?? 0;

    private void AddInflight(Inflight inflight)
    {
        _inflightOrder ??= new();
        (_inflightById ??= [])[inflight.PacketId] = _inflightOrder.AddLast(inflight);
    }

    private bool TryGetInflight(ushort packetId, [NotNullWhen(true)] out LinkedListNode<Inflight>? node)
    {
        node = null;
        return _inflightById?.TryGetValue(packetId, out node) == true;
    }

    private sealed class Inflight(ushort packetId, Delivery delivery)
    {
        public ushort PacketId { get; } = packetId;

        public Delivery Delivery { get; } = delivery;

        public bool Released { get; set; }
    }
}
