using System.Collections.Concurrent;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Inspection;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Ownership;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Wills;
using IoTHub.Mqtt;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Sessions;

/// <summary>
/// The one owner of client id -> session: binds connections to sessions (a takeover closes the previous
/// connection), ends sessions when their connection ends or their expiry passes, and hands the wills of those
/// ends to the <see cref="WillScheduler"/>. Takeovers, ends and expiry of one client id are serialised by one
/// lock, never held while a message is routed. In a cluster, <see cref="Owners"/> keeps each client id to one node.
/// </summary>
internal sealed class SessionRegistry(MessageRouter router, WillScheduler wills, BrokerStatistics statistics, TimeProvider time, ILogger logger)
{
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    /// <summary>The same sessions, for walks over all of them; changed with the map, under the lock.</summary>
    private readonly DenseTable<Session> _table = new();
    private readonly Lock _lock = new();

    /// <summary>The cluster's arbiter of client ids; null without clustering.</summary>
    public ISessionOwners? Owners { get; set; }

    /// <summary>Where new sessions keep their state.</summary>
    public Persistence Persistence { get; set; } = Persistence.None;

    /// <summary>
    /// In a cluster with a store the nodes share: a connection's will is stored as it attaches and deleted as it ends, so that a survivor
    /// publishes it if this node dies (docs/clustering.md#wills-of-a-dead-nodes-clients). False on a single node: nothing is written.
    /// </summary>
    public bool StoresConnectionWills { get; set; }

    public int Count => _sessions.Count;

    /// <summary>Every session, connected or not; a live view, safe to walk while it changes (see <see cref="DenseTable{T}"/>).</summary>
    public DenseTable<Session> All => _table;

    /// <summary>Sessions whose queue is at its limit now; read without locks.</summary>
    public int FullCount
    {
        get
        {
            var full = 0;
            foreach (var session in _table)
            {
                full += session.IsQueueFull ? 1 : 0;
            }

            return full;
        }
    }

    public Session? Find(string clientId) => _sessions.GetValueOrDefault(clientId);

    /// <summary>Takes back a session read from storage at start (before any connection).</summary>
    public void Restore(Session session)
    {
        lock (_lock)
        {
            Put(session);
        }
    }

    /// <summary>
    /// Binds a connection to the session of its client id and returns whether the session was present. An existing
    /// connection with that id is closed (5.0: DISCONNECT 0x8E) and the session continues, unless Clean Start (or an
    /// expiry of 0) asks for a new one. The connection learns its session (and queues CONNACK) under the lock, so
    /// that a client taken over at once still sees its CONNACK before its DISCONNECT. In a cluster the connection attaches only while
    /// its <paramref name="claim"/> holds; null when another node took the client id since (nothing changed then).
    /// </summary>
    public bool? Attach(MqttConnection connection, string clientId, bool cleanStart, uint expiryInterval, ConnAckPacket connAck, long claim = 0)
    {
        MqttConnection? previous;
        Will? endedSessionWill;
        bool present;
        lock (_lock)
        {
            if (Owners is { } owners && !owners.Holds(clientId, claim))
            {
                return null;
            }

            var existing = _sessions.GetValueOrDefault(clientId);
            previous = existing?.Connection;

            // [MQTT-3.1.3-9]: a reconnect before the Will Delay ends cancels the will; a clean start ends
            // the old session, and with it the delay.
            var heldWill = existing is null ? null : wills.Take(existing);
            endedSessionWill = cleanStart || existing?.ExpiryInterval == 0 ? heldWill : null;
            if (existing is not null && previous is not null)
            {
                existing.Detach(previous, time.GetTimestamp(), time.GetUtcNow());
            }

            // A session with expiry 0 ends with its connection: a new connection never resumes it, even
            // when it takes over before that connection has closed (3.1.1 [MQTT-3.1.2-6], 5.0 §3.1.2.11.2).
            Session session;
            if (existing is null || cleanStart || existing.ExpiryInterval == 0)
            {
                if (existing is not null)
                {
                    Discard(existing);
                }

                session = new Session(clientId, Persistence);
                Put(session);
                present = false;
            }
            else
            {
                session = existing;
                present = true;
            }

            session.ExpiryInterval = expiryInterval;
            session.Claim = claim;
            session.Attach(connection);
            if (StoresConnectionWills && connection.AuthorizedWill() is { } will)
            {
                // In the same batch as the session's own write of this CONNECT.
                Persistence.Write(StorageOperation.SetConnectionWill(clientId, claim, will.Unpublished(time), will.Delay, will.ExpiryInterval));
                connection.WillStored = true;
            }

            connection.Attached(session, present, connAck);
        }

        if (previous is not null)
        {
            BrokerLog.SessionTakenOver(logger, clientId, connection.Endpoint);
            previous.Close(ReasonCode.SessionTakenOver, "session taken over by another connection", ConnectionCloseReason.Takeover);
        }

        if (endedSessionWill is not null)
        {
            wills.PublishNow(endedSessionWill);
        }

        return present;
    }

    /// <summary>
    /// Detaches an ending connection from its session; a session with expiry 0 ends with it. The will, unless a
    /// normal DISCONNECT removed it, is published now or after its delay (5.0 §3.1.3.2.2): on a takeover it is
    /// published unless the session continues and the delay is above zero. Returns false when the connection had
    /// been taken over already (its session belongs to another connection, or ended).
    /// </summary>
    public bool Detach(MqttConnection connection, Session session, Will? will)
    {
        var publishNow = false;
        var detached = false;
        List<Delivery>? orphans = null;
        lock (_lock)
        {
            if (connection.WillStored)
            {
                // Whatever the end (DISCONNECT 0x00 removed the will [MQTT-3.1.2-10], 0x04 or a lost connection publish it here, a drain
                // drops it), this node took care of it: a survivor must not publish it.
                Persistence.Write(StorageOperation.DeleteConnectionWill(session.ClientId, connection.SessionClaim));
            }

            var now = time.GetTimestamp();
            if (session.Detach(connection, now, time.GetUtcNow()))
            {
                detached = true;

                // What it got through shared subscriptions goes to the other members of their groups; a session that
                // ends gives it up in the same turn of its lock as it ends.
                if (session.ExpiryInterval == 0)
                {
                    orphans = [];
                    Remove(session, orphans);
                    publishNow = will is not null;
                }
                else
                {
                    orphans = session.TakeSharedDeliveries();
                    if (will is not null && will.Delay == 0)
                    {
                        publishNow = true;
                    }
                    else if (will is not null)
                    {
                        wills.HoldForDelay(session, will, now);
                    }
                }
            }
            else
            {
                // Taken over: by a clean start (the old session was discarded) or by a resumed session, here or on another node.
                publishNow = will is not null && (will.Delay == 0 || (session.Discarded && !session.ContinuesElsewhere));
            }
        }

        if (orphans is not null)
        {
            router.HandOverSharedDeliveries(orphans, session);
        }

        if (publishNow)
        {
            wills.PublishNow(will!);
        }

        return detached;
    }

    /// <summary>
    /// Ends the session of <paramref name="clientId"/> (the admin API's delete): its queue and subscriptions are
    /// dropped, a held will is published as its session ended [MQTT-3.1.3-9]. Returns the connection to close, and
    /// false when there is no such session.
    /// </summary>
    public bool Delete(string clientId, out MqttConnection? connection)
    {
        Will? will;
        lock (_lock)
        {
            if (!_sessions.TryGetValue(clientId, out var session))
            {
                connection = null;
                return false;
            }

            connection = session.Connection;
            Remove(session);
            will = wills.Take(session);
        }

        if (will is not null)
        {
            wills.PublishNow(will);
        }

        return true;
    }

    /// <summary>Ends every offline session whose Session Expiry Interval has passed; a held will goes now.</summary>
    public void Expire(long now)
    {
        foreach (var session in _table)
        {
            var disconnectedAt = session.DisconnectedAt;
            if (disconnectedAt == 0 || session.ExpiryInterval == uint.MaxValue
                || time.GetElapsedTime(disconnectedAt, now).TotalSeconds < session.ExpiryInterval)
            {
                continue;
            }

            Will? will = null;
            lock (_lock)
            {
                // Re-check under the lock: the client may have come back meanwhile.
                if (session.Connection is null && session.DisconnectedAt == disconnectedAt && !session.Discarded)
                {
                    Remove(session);
                    BrokerLog.SessionExpired(logger, session.ClientId);

                    // The session ended before the will's delay: the will goes now [MQTT-3.1.3-9], once the lock is
                    // released, as every publish is: connects and takeovers never wait for its routing.
                    will = wills.Take(session);
                }
            }

            if (will is not null)
            {
                wills.PublishNow(will);
            }
        }
    }

    /// <summary>
    /// Lets the session of <paramref name="clientId"/> go to another node of the cluster, which claimed the client id: its connection is
    /// closed (5.0: DISCONNECT 0x8E) and it leaves this node without a change to its stored state, which the other node reads next.
    /// The wills follow <see cref="Attach"/>'s rules, <paramref name="continues"/> telling whether the other node resumes the session
    /// (no clean start): a held will is cancelled when it continues and published when it ends. False when there was no session.
    /// </summary>
    public bool GiveUp(string clientId, bool continues)
    {
        MqttConnection? previous;
        Will? endedSessionWill;
        lock (_lock)
        {
            if (!_sessions.TryGetValue(clientId, out var session))
            {
                return false;
            }

            // A session with expiry 0 ends with its connection: the other node never resumes it [MQTT-3.1.2-6].
            var resumed = continues && session.ExpiryInterval > 0;
            previous = session.Connection;
            var heldWill = wills.Take(session);
            endedSessionWill = resumed ? null : heldWill;
            if (previous is not null)
            {
                session.Detach(previous, time.GetTimestamp(), time.GetUtcNow());
            }

            Forget(session, resumed);
        }

        if (previous is not null)
        {
            BrokerLog.SessionMovedAway(logger, clientId, previous.Endpoint);
            previous.Close(ReasonCode.SessionTakenOver, "session taken over by a connection on another node", ConnectionCloseReason.Takeover);
        }

        if (endedSessionWill is not null)
        {
            wills.PublishNow(endedSessionWill);
        }

        return true;
    }

    /// <summary>
    /// Makes <paramref name="session"/>, read from the cluster's shared store for <paramref name="claim"/>, the session of its client
    /// id here (null: none was stored); a copy this node kept is stale and goes without a write. False, changing nothing, when the
    /// claim no longer holds: the caller then takes <paramref name="session"/>'s subscriptions out of the tree again.
    /// </summary>
    public bool Adopt(string clientId, Session? session, long claim)
    {
        lock (_lock)
        {
            if (Owners is { } owners && !owners.Holds(clientId, claim))
            {
                return false;
            }

            if (_sessions.TryGetValue(clientId, out var stale))
            {
                // A will it held for its delay goes on with the session, and follows Attach's rules from there.
                if (session is not null)
                {
                    wills.Transfer(stale, session);
                }

                Forget(stale, continues: true);
            }

            if (session is not null)
            {
                Put(session);
            }

            return true;
        }
    }

    /// <summary>
    /// The will of a client that was connected to a node that died (<paramref name="persistent"/>: that node stored its session), adopted by
    /// this node: published now when its delay is 0 or its session ended with the connection (no persistent session); held for its delay
    /// (or the session's expiry, if shorter) when this node adopted the session offline; dropped when the client came back (its session is
    /// connected, here or on the node it went to) [MQTT-3.1.3-9].
    /// </summary>
    public void AdoptWill(string clientId, Will will, bool persistent)
    {
        var publishNow = false;
        lock (_lock)
        {
            if (will.Delay == 0 || !persistent)
            {
                publishNow = true;
            }
            else if (_sessions.TryGetValue(clientId, out var session) && session.Connection is null)
            {
                wills.HoldForDelay(session, will, time.GetTimestamp());
            }
        }

        if (publishNow)
        {
            wills.PublishNow(will);
        }
    }

    /// <summary>Holds <paramref name="will"/>, read from the store with <paramref name="clientId"/>'s session, for it until <paramref name="dueAt"/>, while it is offline here.</summary>
    public void HoldStoredWill(string clientId, Will will, long dueAt)
    {
        lock (_lock)
        {
            if (_sessions.TryGetValue(clientId, out var session) && session.Connection is null)
            {
                wills.Hold(session, will, dueAt);
            }
        }
    }

    /// <summary>Takes a session out of this node without a write to the store (it belongs to another node now). Under the lock.</summary>
    private void Forget(Session session, bool continues)
    {
        _sessions.TryRemove(session.ClientId, out _);
        if (session.TableSlot >= 0)
        {
            _table.Remove(session);
        }

        session.MoveAway(router.Subscriptions, continues);
    }

    /// <summary>Makes <paramref name="session"/> the one of its client id, in place of any other. Under the lock.</summary>
    private void Put(Session session)
    {
        if (_sessions.TryGetValue(session.ClientId, out var replaced) && replaced.TableSlot >= 0)
        {
            _table.Remove(replaced);
        }

        _sessions[session.ClientId] = session;
        _table.Add(session);
    }

    private void Remove(Session session, List<Delivery>? sharedOrphans = null)
    {
        if (_sessions.TryGetValue(session.ClientId, out var current) && ReferenceEquals(current, session))
        {
            _sessions.TryRemove(session.ClientId, out _);

            // Ended, not moved: the client id is free in the cluster.
            Owners?.Released(session.ClientId, session.Claim);
        }

        if (session.TableSlot >= 0)
        {
            _table.Remove(session);
        }

        Discard(session, sharedOrphans);
    }

    private void Discard(Session session, List<Delivery>? sharedOrphans = null) =>
        statistics.MessagesDroppedAdd(DropReason.SessionEnded, session.Discard(router.Subscriptions, sharedOrphans));
}
