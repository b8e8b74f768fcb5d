using System.Diagnostics.CodeAnalysis;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Inspection;
using IoTHub.Broker.Retained;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Storage;
using IoTHub.Mqtt;

using IoTHub.Broker.Security.Authorization;

namespace IoTHub.Broker.Sessions;

/// <summary>
/// The state that belongs to a client id and may outlive its connection: subscriptions, messages
/// waiting to be sent, QoS 1/2 messages in flight in both directions. All of it is guarded by
/// <see cref="Sync"/>; the attached connection's write loop is the only one that sends.
/// </summary>
internal sealed class Session : IDenseTableEntry
{
    private readonly SessionQueue _pending = new();

    /// <summary>Retained messages still to send for new subscriptions, oldest subscription first (under <see cref="Sync"/>); null: none.</summary>
    private List<RetainedFeed>? _feeds;
    // The QoS 1/2 state is made with the first QoS 1/2 message: most idle clients never have any, and
    // the three empty collections would cost every connection 184 B.
    private Dictionary<ushort, LinkedListNode<Inflight>>? _inflightById;
    private LinkedList<Inflight>? _inflightOrder;
    private HashSet<ushort>? _receivedQos2;

    // Received QoS 2 ids whose PUBREC a closed connection never sent, its acknowledgement still waiting or failed (HoldQos2Acknowledgement).
    private Dictionary<ushort, Task>? _unacknowledgedQos2;
    // Made with the first subscription: a connection that only publishes never has one, and an empty map is 80 B.
    private Dictionary<string, Subscription>? _subscriptions;
    private ushort _lastPacketId;
    private bool _queueFull;
    private long _queueFullLoggedAt;

    private readonly Persistence _persistence;
    private long _lastSequence;
    private bool _wasStored;

    internal Session(string clientId, Persistence? persistence = null)
    {
        ClientId = clientId;
        _persistence = persistence ?? Persistence.None;
    }

    /// <summary>A session outliving its connection is stored (when the broker has storage), until it ends or moves to another node.</summary>
    private bool Stored => ExpiryInterval > 0 && _persistence.Enabled && !Discarded;

    public string ClientId { get; }

    /// <summary>Seconds the session is kept after its connection ends: 0 ends it with the connection.</summary>
    public uint ExpiryInterval { get; internal set; }

    /// <summary>
    /// What guards its state: the session itself. A monitor lock lives in the object's header until it is contended,
    /// where a <see cref="Lock"/> would be one more object of 40 B on every session.
    /// </summary>
    internal object Sync => this;

    /// <summary>Its slot in the registry's table of sessions; -1 when it is in none.</summary>
    public int TableSlot { get; set; } = -1;

    internal MqttConnection? Connection { get; private set; }

    /// <summary>Its clients' traffic and its drops.</summary>
    public ClientCounters Counters { get; } = new();

    /// <summary>Why its last connection ended (as the log says it); null before one ended in this broker process.</summary>
    internal string? LastDisconnectReason { get; private set; }

    /// <summary>What the client of its last connection may read; null without an authorizer (or before a client connected since a restart).</summary>
    internal AclClient? Access { get; private set; }

    /// <summary>When the client went offline (a <see cref="TimeProvider"/> timestamp); 0 while connected.</summary>
    internal long DisconnectedAt { get; private set; }

    internal bool Discarded { get; private set; }

    /// <summary>Discarded here because another node of the cluster took it over and continues it (not a clean start there).</summary>
    internal bool ContinuesElsewhere { get; private set; }

    /// <summary>The claim of the cluster's arbiter this session was attached under (see <see cref="Ownership.ISessionOwners"/>); 0 without clustering.</summary>
    internal long Claim { get; set; }

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

    /// <summary>The session as the admin API and the dashboard list it, read in one turn of its lock.</summary>
    /// <param name="now">The broker's timestamp and clock (<paramref name="utcNow"/>), read once for a whole list: for when it went offline and when it ends.</param>
    /// <summary>What lists filter and order sessions by, read in one turn of its lock: the walk over every session reads no more.</summary>
    internal SessionListing Listing()
    {
        lock (Sync)
        {
            var connection = Connection;
            return new SessionListing(this, connection is not null, connection?.Endpoint, connection?.UserName, _pending.Count, InflightCount, _queueFull,
                connection?.ConnectedAt);
        }
    }

    internal SessionSnapshot Snapshot(TimeProvider time, long now, DateTimeOffset utcNow)
    {
        lock (Sync)
        {
            var connection = Connection;
            DateTimeOffset? disconnectedAt = null;
            DateTimeOffset? expiresAt = null;
            if (connection is null && DisconnectedAt != 0)
            {
                disconnectedAt = utcNow - time.GetElapsedTime(DisconnectedAt, now);
                expiresAt = ExpiryInterval == uint.MaxValue ? null : disconnectedAt.Value.AddSeconds(ExpiryInterval);
            }

            return new SessionSnapshot(ClientId, connection is not null, connection?.Endpoint, connection?.UserName, connection?.Version, ExpiryInterval,
                _pending.Count, InflightCount, _subscriptions?.Count ?? 0, _queueFull, Counters.Dropped(DropReason.QueueFull), connection?.ConnectedAt, Counters)
            {
                KeepAlive = connection?.KeepAlive,
                CleanStart = connection?.CleanStart,
                Listener = connection?.Listener,
                Transport = connection?.Info.Transport,
                DisconnectedAt = disconnectedAt,
                ExpiresAt = expiresAt,
                LastDisconnectReason = LastDisconnectReason,
            };
        }
    }

    /// <summary>The messages waiting to be sent, oldest first (a copy).</summary>
    internal List<Delivery> GetQueued()
    {
        lock (Sync)
        {
            return _pending.ToList();
        }
    }

    /// <summary>
    /// True from a message that found the queue at its limit (and was dropped, or made an older QoS 0 one
    /// go) until the queue next takes a message without dropping or the client takes one out of it.
    /// </summary>
    public bool IsQueueFull => Volatile.Read(ref _queueFull);

    /// <summary>Messages this session lost to its full queue: the new ones refused and the old QoS 0 ones dropped for them.</summary>
    public long QueueFullDrops => Counters.Dropped(DropReason.QueueFull);

    /// <summary>Entries the queue has read or written so far: what its operations cost, counted (see <see cref="SessionQueue.EntriesTouched"/>).</summary>
    internal long QueueEntriesTouched
    {
        get
        {
            lock (Sync)
            {
                return _pending.EntriesTouched;
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

    /// <summary>
    /// Rebuilds a stored session at start, offline since <paramref name="disconnectedAt"/>, its messages expiring on the broker's
    /// clock (read at <paramref name="now"/> and <paramref name="utcNow"/>). Writes nothing back but the deletion of the
    /// queued messages whose expiry passed while the broker was down, never delivered [MQTT-3.3.2-5]; returns how many. Messages in
    /// flight are kept whatever their expiry: their delivery had started.
    /// </summary>
    internal int Restore(StoredSession stored, long disconnectedAt, SubscriptionTree tree, TimeProvider time, long now, DateTimeOffset utcNow)
    {
        var expired = 0;
        lock (Sync)
        {
            ExpiryInterval = stored.ExpiryInterval;
            DisconnectedAt = disconnectedAt;
            _wasStored = true;
            foreach (var subscription in stored.Subscriptions)
            {
                var restored = new Subscription(this, subscription.TopicFilter, subscription.Options, subscription.SubscriptionId);
                Subscriptions[subscription.TopicFilter] = restored;
                tree.Add(restored);
            }

            foreach (var inflight in stored.Outgoing)
            {
                var delivery = new Delivery(inflight.Message.OnClock(time, now, utcNow), inflight.QualityOfService, inflight.Retain) { Sequence = inflight.Sequence };
                AddInflight(new Inflight(inflight.PacketId, delivery) { Released = inflight.Released });
                _lastSequence = Math.Max(_lastSequence, inflight.Sequence);
            }

            foreach (var queued in stored.Queued)
            {
                var delivery = new Delivery(queued.Message.OnClock(time, now, utcNow), queued.QualityOfService, queued.Retain) { Sequence = queued.Sequence };
                _lastSequence = Math.Max(_lastSequence, queued.Sequence);
                if (delivery.Message.IsExpired(now))
                {
                    ForgetQueued(delivery);
                    expired++;
                }
                else
                {
                    _pending.Enqueue(delivery);
                }
            }

            Counters.Drop(DropReason.Expired, expired);

            foreach (var packetId in stored.IncomingQos2)
            {
                (_receivedQos2 ??= []).Add(packetId);
            }
        }

        return expired;
    }

    /// <summary>Attaches a connection; messages in flight are resent first, with DUP, on its write loop.</summary>
    internal void Attach(MqttConnection connection)
    {
        lock (Sync)
        {
            Connection = connection;
            Access = connection.Access;
            DisconnectedAt = 0;
            if (Stored)
            {
                _wasStored = true;
                _persistence.Write(StorageOperation.UpsertSession(ClientId, ExpiryInterval, disconnectedAt: null));
            }
        }
    }

    /// <summary>Detaches <paramref name="connection"/> if it is still the attached one.</summary>
    /// <param name="now">The broker's timestamp, for expiry.</param>
    /// <param name="utcNow">The broker's clock, stored as the time the client went offline.</param>
    internal bool Detach(MqttConnection connection, long now, DateTimeOffset utcNow)
    {
        lock (Sync)
        {
            if (!ReferenceEquals(Connection, connection))
            {
                return false;
            }

            Connection = null;
            DisconnectedAt = now;
            LastDisconnectReason = connection.CloseReason;
            if (Stored)
            {
                _persistence.Write(StorageOperation.UpsertSession(ClientId, ExpiryInterval, utcNow));
            }

            return true;
        }
    }

    /// <summary>
    /// Marks the session as ended: its messages are dropped and its subscriptions leave the tree. Returns
    /// how many messages it threw away: queued, and in flight before the client acknowledged them (a
    /// QoS 2 message past PUBREC has arrived).
    /// </summary>
    /// <param name="sharedOrphans">
    /// When given, receives what the session got through shared subscriptions and has not acknowledged, taken in the
    /// same turn of the lock that ends the session: nothing routed to it in between is lost to its group.
    /// </param>
    internal int Discard(SubscriptionTree tree, List<Delivery>? sharedOrphans = null)
    {
        lock (Sync)
        {
            sharedOrphans?.AddRange(TakeSharedDeliveries());
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

            Clear(tree);
            return dropped;
        }
    }

    /// <summary>
    /// Lets the session go to another node of the cluster (<paramref name="continues"/>: it resumes it there): its subscriptions leave
    /// the tree and its state is dropped here, and nothing of it is written any more, its stored state untouched for the new owner.
    /// </summary>
    internal void MoveAway(SubscriptionTree tree, bool continues)
    {
        lock (Sync)
        {
            ContinuesElsewhere = continues;
            Clear(tree);
        }
    }

    /// <summary>Ends the session here: no more messages, subscriptions out of the tree, retained feeds stopped. Under the lock.</summary>
    private void Clear(SubscriptionTree tree)
    {
        Discarded = true;
        _pending.Clear();
        Volatile.Write(ref _queueFull, false);
        _inflightById = null;
        _inflightOrder = null;
        _receivedQos2 = null;
        _unacknowledgedQos2 = null;
        if (_subscriptions is { } subscriptions)
        {
            foreach (var filter in subscriptions.Keys)
            {
                tree.Remove(this, filter);
            }
        }

        _subscriptions = null;
        StopFeeds(filter: null);
    }

    /// <summary>
    /// Queues a message for the client. A full queue (by count or bytes) drops per the overflow policy
    /// without walking the queue: the new message, or the oldest QoS 0 ones as long as dropping them makes
    /// room; a queue of QoS 1/2 messages refuses the new one at once. <paramref name="dropped"/> says how
    /// many messages this call threw away.
    /// </summary>
    internal EnqueueResult Enqueue(in Delivery delivery, BrokerOptions options, out int dropped)
    {
        MqttConnection? connection;
        var result = EnqueueResult.Queued;
        dropped = 0;
        lock (Sync)
        {
            connection = Connection;
            if (Discarded)
            {
                return EnqueueResult.SessionEnded;
            }

            if (connection is null && delivery.QualityOfService == QualityOfService.AtMostOnce && !options.QueueQoS0WhileOffline)
            {
                Counters.Drop(DropReason.OfflineQoS0);
                return EnqueueResult.SkippedOffline;
            }

            var size = delivery.Message.Size;
            if (_pending.Count >= options.MaximumQueuedMessages || _pending.Bytes + size > options.MaximumQueuedBytes)
            {
                Volatile.Write(ref _queueFull, true);
                if (options.QueueOverflowPolicy == QueueOverflowPolicy.DropNewest
                    || !_pending.TryMakeRoom(size, options.MaximumQueuedMessages, options.MaximumQueuedBytes, out dropped))
                {
                    dropped = 1;
                    Counters.Drop(DropReason.QueueFull);
                    return EnqueueResult.DroppedNew;
                }

                Counters.Drop(DropReason.QueueFull, dropped);
                result = EnqueueResult.DroppedOldest;
            }
            else if (_queueFull)
            {
                Volatile.Write(ref _queueFull, false);
            }

            if (_feeds is not null)
            {
                foreach (var feed in _feeds)
                {
                    feed.SawLive(delivery.Message.Topic);
                }
            }

            var queued = delivery;
            if (Stored && delivery.QualityOfService != QualityOfService.AtMostOnce)
            {
                queued = delivery with { Sequence = ++_lastSequence };
                _persistence.Write(StorageOperation.EnqueueMessage(ClientId, queued.Sequence, delivery.Message, delivery.QualityOfService, delivery.Retain));
            }

            _pending.Enqueue(queued);
        }

        connection?.SignalWrite();
        return result;
    }

    /// <summary>
    /// True when a full queue should be logged now: at most once per <paramref name="period"/> (timestamps)
    /// per session, decided without the session's lock so that a full queue costs its publishers nothing more.
    /// </summary>
    internal bool ShouldLogQueueFull(long now, long period)
    {
        var last = Volatile.Read(ref _queueFullLoggedAt);
        return (last == 0 || now - last >= period) && Interlocked.CompareExchange(ref _queueFullLoggedAt, now, last) == last;
    }

    private void StoreInflight(ushort packetId, in Delivery delivery, bool released) =>
        _persistence.Write(StorageOperation.SetOutgoingInflight(ClientId, packetId, delivery.Sequence, delivery.Message,
            delivery.QualityOfService, delivery.Retain, released));

    /// <summary>
    /// Records a QoS 2 message's packet id before its PUBLISH goes out: the write loop holds the PUBLISH until the returned
    /// commit completed (strict durability; null when there is nothing to wait for). Sent with an id the store does not have,
    /// a crash before the commit would make the restarted broker (or the node adopting the session) send it again under a
    /// new id, which the client may deliver as a new message: MQTT 5.0 §4.3.3 and 3.1.1 §4.3.3 store the message before
    /// the PUBLISH, and resumption resends it with its original packet id [MQTT-4.4.0-1].
    /// </summary>
    private Task? StoreQos2Inflight(ushort packetId, in Delivery delivery) =>
        _persistence.WriteAwaited(StorageOperation.SetOutgoingInflight(ClientId, packetId, delivery.Sequence, delivery.Message,
            delivery.QualityOfService, delivery.Retain, released: false));

    private void ForgetQueued(in Delivery delivery)
    {
        if (delivery.Sequence != 0)
        {
            _persistence.Write(StorageOperation.RemoveQueuedMessage(ClientId, delivery.Sequence));
        }
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
                if (inflight.Commit is { } pending)
                {
                    if (!pending.IsCompletedSuccessfully)
                    {
                        // A QoS 2 PUBLISH never written: its packet id's commit failed, so it is stored again and waited for
                        // again (never sent: DUP 0); or that commit has not finished yet (a takeover while the last connection
                        // waited), and this connection waits for it too.
                        var failed = pending.IsFaulted || pending.IsCanceled;
                        if (failed)
                        {
                            _ = pending.Exception;
                            inflight.Commit = Stored ? StoreQos2Inflight(inflight.PacketId, inflight.Delivery) : null;
                            if (Stored)
                            {
                                ForgetQueued(inflight.Delivery);
                            }
                        }

                        batch.Add(Outbound.Publish(inflight.Delivery, inflight.PacketId, duplicate: !failed, inflight.Commit));
                        continue;
                    }

                    inflight.Commit = null;
                }

                batch.Add(inflight.Released
                    ? Outbound.Ack(PacketType.PubRel, inflight.PacketId, ReasonCode.Success)
                    : Outbound.Publish(inflight.Delivery, inflight.PacketId, duplicate: true));
            }
        }
    }

    /// <summary>
    /// Moves up to <paramref name="limit"/> queued messages to the batch while the in-flight window has
    /// room, for the attached connection only; the limit keeps the lock short, as routing threads wait
    /// for it. Messages whose expiry passed while they waited are dropped (5.0 §3.3.2.3.3); returns how many.
    /// A queue shorter than <paramref name="retainedBatch"/> first takes that many from the retained feeds.
    /// </summary>
    internal int CollectSendable(MqttConnection connection, List<Outbound> batch, int window, long now, int limit, int retainedBatch)
    {
        var expired = 0;
        lock (Sync)
        {
            if (!ReferenceEquals(Connection, connection))
            {
                return 0;
            }

            TakeRetained(retainedBatch);

            var taken = 0;
            for (; taken < limit && _pending.TryPeek(out var delivery); taken++)
            {
                if (delivery.Message.IsExpired(now))
                {
                    _pending.RemoveOldest();
                    ForgetQueued(delivery);
                    expired++;
                    continue;
                }

                ushort packetId = 0;
                Task? commit = null;
                if (delivery.QualityOfService != QualityOfService.AtMostOnce)
                {
                    if (InflightCount >= window)
                    {
                        break;
                    }

                    packetId = NextPacketId();
                    var inflight = new Inflight(packetId, delivery);
                    AddInflight(inflight);
                    if (Stored)
                    {
                        if (delivery.QualityOfService == QualityOfService.ExactlyOnce)
                        {
                            // Strict durability: written once its packet id is stored (StoreQos2Inflight).
                            commit = StoreQos2Inflight(packetId, delivery);
                            inflight.Commit = commit;
                        }
                        else
                        {
                            StoreInflight(packetId, delivery, released: false);
                        }

                        ForgetQueued(delivery);
                    }
                }

                _pending.RemoveOldest();
                batch.Add(Outbound.Publish(delivery, packetId, duplicate: false, commit));
            }

            Counters.Drop(DropReason.Expired, expired);

            if (taken > 0 && _queueFull)
            {
                // The client takes from the queue: it is no longer at its limit.
                Volatile.Write(ref _queueFull, false);
            }
        }

        return expired;
    }

    /// <summary>
    /// Starts sending the retained messages of <paramref name="feed"/> (after its subscription was acknowledged); nothing
    /// when the subscription was removed or replaced meanwhile (which stopped any earlier feed of its filter), or the session ended.
    /// A connected session queues the first <paramref name="batch"/> at once, so that they go out before any message
    /// routed after the SUBSCRIBE, as when every retained message was queued at SUBSCRIBE; the rest follow as the queue empties.
    /// </summary>
    internal void Feed(RetainedFeed feed, int batch)
    {
        MqttConnection? connection;
        lock (Sync)
        {
            var subscription = feed.Subscription;
            if (Discarded || _subscriptions is null || !_subscriptions.TryGetValue(subscription.TopicFilter, out var current) || !ReferenceEquals(current, subscription))
            {
                feed.Stop();
                return;
            }

            (_feeds ??= []).Add(feed);
            connection = Connection;
            if (connection is not null)
            {
                TakeRetained(batch);
            }
        }

        connection?.SignalWrite();
    }

    /// <summary>Whether retained messages of new subscriptions are still to be sent.</summary>
    internal bool FeedsRetained
    {
        get
        {
            lock (Sync)
            {
                return _feeds is not null;
            }
        }
    }

    /// <summary>Moves retained messages from the feeds into the queue until it holds <paramref name="batch"/>. Under the lock.</summary>
    private void TakeRetained(int batch)
    {
        while (_feeds is { } feeds && _pending.Count < batch)
        {
            if (feeds[0].TryTake(out var delivery))
            {
                _pending.Enqueue(delivery);
            }
            else
            {
                feeds.RemoveAt(0);
                _feeds = feeds.Count == 0 ? null : feeds;
            }
        }
    }

    /// <summary>Ends the feeds of the subscription to <paramref name="filter"/> (null: all). Under the lock.</summary>
    private void StopFeeds(string? filter)
    {
        if (_feeds is not { } feeds)
        {
            return;
        }

        for (var i = feeds.Count - 1; i >= 0; i--)
        {
            if (filter is null || feeds[i].Subscription.TopicFilter == filter)
            {
                feeds[i].Stop();
                feeds.RemoveAt(i);
            }
        }

        _feeds = feeds.Count == 0 ? null : feeds;
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

            var fromInflight = taken.Count;
            _pending.TakeWhere(static delivery => delivery.Shared is not null, taken);
            for (var i = fromInflight; i < taken.Count; i++)
            {
                ForgetQueued(taken[i]);
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

    /// <summary>The QoS of the outgoing message in flight under <paramref name="packetId"/>; null when none is.</summary>
    internal QualityOfService? InflightQualityOfService(ushort packetId)
    {
        lock (Sync)
        {
            return TryGetInflight(packetId, out var node) ? node.Value.Delivery.QualityOfService : null;
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

    /// <summary>
    /// A connection closed before the PUBREC of the received QoS 2 id <paramref name="packetId"/> went out, what it waited for
    /// (<paramref name="acknowledgement"/>: a commit, other nodes' acceptance) not done yet or failed: kept for the client's resend of
    /// the PUBLISH, whose PUBREC then waits for the same outcome (<see cref="TakeQos2Acknowledgement"/>) rather than going out at once
    /// for a message that may yet be refused.
    /// </summary>
    internal void HoldQos2Acknowledgement(ushort packetId, Task acknowledgement)
    {
        lock (Sync)
        {
            if (_receivedQos2?.Contains(packetId) == true)
            {
                (_unacknowledgedQos2 ??= [])[packetId] = acknowledgement;
            }
        }
    }

    /// <summary>What the PUBREC of a resent QoS 2 PUBLISH waits for: the held acknowledgement of its id, taken; null when none was held.</summary>
    internal Task? TakeQos2Acknowledgement(ushort packetId)
    {
        lock (Sync)
        {
            return _unacknowledgedQos2 is { } held && held.Remove(packetId, out var acknowledgement) ? acknowledgement : null;
        }
    }

    /// <summary>PUBREL from the client: forgets the packet id. False when it was not recorded.</summary>
    internal bool ReleaseReceivedQos2(ushort packetId)
    {
        lock (Sync)
        {
            _unacknowledgedQos2?.Remove(packetId);
            var removed = _receivedQos2?.Remove(packetId) == true;
            if (removed && Stored)
            {
                _persistence.Write(StorageOperation.RemoveIncomingQos2(ClientId, packetId));
            }

            return removed;
        }
    }

    private Dictionary<string, Subscription> Subscriptions => _subscriptions ??= new(StringComparer.Ordinal);

    internal int SubscriptionCount
    {
        get
        {
            lock (Sync)
            {
                return _subscriptions?.Count ?? 0;
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

            var subscriptions = Subscriptions;
            var isNew = !subscriptions.ContainsKey(subscription.TopicFilter);
            subscriptions[subscription.TopicFilter] = subscription;
            StopFeeds(subscription.TopicFilter);
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
            return _subscriptions is null ? [] : [.. _subscriptions.Values];
        }
    }

    internal bool HasSubscription(string topicFilter)
    {
        lock (Sync)
        {
            return _subscriptions?.ContainsKey(topicFilter) == true;
        }
    }

    internal bool Unsubscribe(string topicFilter, SubscriptionTree tree)
    {
        lock (Sync)
        {
            var removed = _subscriptions?.Remove(topicFilter) == true && tree.Remove(this, topicFilter);
            StopFeeds(topicFilter);
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

        /// <summary>
        /// The commit a QoS 2 PUBLISH waits for before it is written (<see cref="StoreQos2Inflight"/>); null when none. A
        /// PUBLISH is written only after it succeeded, so one not (yet) successful means the client never got this PUBLISH.
        /// </summary>
        public Task? Commit { get; set; }
    }
}
