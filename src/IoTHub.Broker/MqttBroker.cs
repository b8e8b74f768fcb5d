using System.Collections.Concurrent;
using System.IO.Pipelines;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Retained;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Security;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Wills;
using IoTHub.Mqtt;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTHub.Broker;

/// <summary>
/// One isolated broker: its sessions, topic tree and retained messages. Transports hand it
/// connections as duplex pipes through <see cref="HandleConnectionAsync"/>, the one seam between
/// the network and the engine.
/// </summary>
public sealed partial class MqttBroker : IAsyncDisposable
{
    private static readonly TimeSpan DrainPollInterval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Seconds between two log lines about one session whose queue stays full.</summary>
    private const long QueueFullLogPeriod = 60;

    [ThreadStatic]
    private static List<Subscription>? t_matches;

    [ThreadStatic]
    private static Dictionary<Session, int>? t_bySession;

    [ThreadStatic]
    private static List<uint[]?>? t_subscriptionIds;

    [ThreadStatic]
    private static List<Subscription>? t_shared;

    [ThreadStatic]
    private static List<Subscription>? t_members;

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<MqttConnection, byte> _connections = new();
    private readonly Lock _sessionsLock = new();
    private readonly LogRateLimiter _refusedConnectLog;
    private readonly LogRateLimiter _refusedPublishLog;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _monitor;
    private readonly PendingWills _wills;
    private Persistence _persistence = Persistence.None;
    private readonly SharedGroups _sharedGroups;
    private readonly SysTopics _sysTopics;
    private long _assignedIds;
    private int _disposed;
    private int _state;

    public MqttBroker(BrokerOptions options, ILogger<MqttBroker>? logger = null, TimeProvider? time = null)
    {
        Options = options;
        Logger = logger ?? NullLogger<MqttBroker>.Instance;
        Time = time ?? TimeProvider.System;
        _refusedConnectLog = new LogRateLimiter(linesPerPeriod: 20, TimeSpan.FromSeconds(10), Time);
        _refusedPublishLog = new LogRateLimiter(linesPerPeriod: 20, TimeSpan.FromSeconds(10), Time);
        _sysTopics = new SysTopics(this);
        _wills = new PendingWills(Time);
        _sharedGroups = new SharedGroups(options.SharedSubscriptionStrategy);
        Subscriptions = new SubscriptionTree { SharedSubscriptionEmptied = _sharedGroups.Forget };
        Topics = new TopicPolicy(options);
        StartedAt = Time.GetTimestamp();
        Stopping = _stopping.Token;
    }

    public BrokerState State => (BrokerState)Volatile.Read(ref _state);

    /// <summary>Delayed wills not yet published.</summary>
    public int PendingWillCount => _wills.Count;

    public BrokerOptions Options { get; }

    internal SubscriptionTree Subscriptions { get; }

    /// <summary>Shared subscriptions whose member choice keeps state (round robin, sticky): pruned when a group empties.</summary>
    internal int SharedSubscriptionStates => _sharedGroups.Count;

    internal RetainedStore Retained { get; } = new();

    /// <summary>Subscriptions in the topic tree, every session's.</summary>
    public int SubscriptionCount => Subscriptions.Count;

    /// <summary>Retained messages kept (expired ones until the monitor removes them).</summary>
    public int RetainedCount => Retained.Count;

    public BrokerStatistics Statistics { get; } = new();

    public int ConnectionCount => _connections.Count;

    public int SessionCount => _sessions.Count;

    /// <summary>Sessions whose queue is at its limit now (see <see cref="SessionSnapshot.QueueFull"/>); read without locks.</summary>
    public int FullSessionCount
    {
        get
        {
            var full = 0;
            foreach (var session in _sessions.Values)
            {
                full += session.IsQueueFull ? 1 : 0;
            }

            return full;
        }
    }

    /// <summary>When the broker was created, for $SYS uptime.</summary>
    internal long StartedAt { get; }

    internal IEnumerable<Session> Sessions => _sessions.Values;

    internal ILogger Logger { get; }

    internal TimeProvider Time { get; }

    /// <summary>
    /// Makes this broker keep its state in storage: rebuilds what <paramref name="state"/> holds
    /// (retained messages, persistent sessions with their queues and in-flight messages, delayed
    /// wills) and from now on writes every change through <paramref name="writer"/>. Call before
    /// <see cref="Start"/>. Times stored as wall-clock times continue from now. A queued or retained message whose expiry
    /// passed while the broker was down is deleted instead [MQTT-3.3.2-5]: a queued one counts as dropped for expiry, a
    /// retained one is not counted (as when it expires while the broker runs).
    /// </summary>
    public void AttachStorage(StorageWriter writer, StoredState state)
    {
        _persistence = new Persistence(writer);
        var now = Time.GetTimestamp();
        var utcNow = Time.GetUtcNow();
        foreach (var stored in state.Retained)
        {
            var message = stored.OnClock(Time, now, utcNow);
            if (message.IsExpired(now))
            {
                _persistence.Write(StorageOperation.DeleteRetained(message.Topic));
            }
            else
            {
                Retained.Set(message);
            }
        }

        foreach (var stored in state.Sessions)
        {
            var offlineFor = utcNow - (stored.DisconnectedAt ?? utcNow);
            var session = new Session(stored.ClientId, _persistence);
            var expired = session.Restore(stored, now - (long)(Math.Max(0, offlineFor.TotalSeconds) * Time.TimestampFrequency), Subscriptions,
                Time, now, utcNow);
            Statistics.MessagesDroppedAdd(DropReason.Expired, expired);
            _sessions[stored.ClientId] = session;
        }

        foreach (var will in state.Wills)
        {
            if (_sessions.TryGetValue(will.ClientId, out var session))
            {
                var dueIn = Math.Max(0, (will.DueAt - utcNow).TotalSeconds);
                _wills.Add(session, new Will(will.Message, will.ClientId, will.DelayInterval, will.ExpiryInterval), now + (long)(dueIn * Time.TimestampFrequency));
            }
        }

        _wills.Persistence = _persistence;
    }

    /// <summary>
    /// <see cref="SetRetained"/> for the admin API: completes once the change is stored (strict durability; at once when
    /// relaxed or in memory), faults when its commit failed, as a client's PUBACK would not come.
    /// </summary>
    public Task SetRetainedAsync(MqttMessage message)
    {
        Persistence.BeginPacket();
        SetRetained(message);
        return Persistence.EndPacket() ?? Task.CompletedTask;
    }

    /// <summary>Stores, replaces or (empty payload) deletes a retained message, in memory and in storage, without delivering it.</summary>
    internal void SetRetained(MqttMessage message)
    {
        Retained.Set(message);
        _persistence.Write(message.Payload.IsEmpty ? StorageOperation.DeleteRetained(message.Topic) : StorageOperation.SetRetained(message));
    }

    /// <summary>The rules for topic names and filters, shared by connections and the admin API.</summary>
    internal TopicPolicy Topics { get; }

    /// <summary>
    /// Null when the admin API may publish to <paramref name="topic"/> (or keep a retained message for it); otherwise
    /// why not: the rules and limits of a client's PUBLISH, but for the server's own <c>$</c> topics.
    /// </summary>
    public string? CheckTopicName(string topic) => Topics.RefuseTopicName(topic, fromClient: false);

    /// <summary>
    /// Subscribes <paramref name="session"/> to <paramref name="filter"/> as its client's SUBSCRIBE would, for MQTT and
    /// the admin API alike: checks the filter and the quota, grants at most the broker's Maximum QoS ([MQTT-3.8.4-6]),
    /// stores the subscription, and adds to <paramref name="retained"/> what its Retain Handling asks to send now.
    /// </summary>
    internal SubscribeOutcome Subscribe(Session session, string filter, SubscriptionOptions requested, uint subscriptionId, List<Delivery> retained,
        out QualityOfService granted)
    {
        granted = (QualityOfService)Math.Min((int)requested.QualityOfService, (int)Options.MaximumQoS);
        if (!Topics.IsAcceptableFilter(filter))
        {
            return SubscribeOutcome.InvalidFilter;
        }

        if (session.SubscriptionCount >= Options.MaximumSubscriptionsPerClient && !session.HasSubscription(filter))
        {
            return SubscribeOutcome.QuotaExceeded;
        }

        var subscription = new Subscription(session, filter, requested with { QualityOfService = granted }, subscriptionId);
        if (session.Subscribe(subscription, Subscriptions) is not { } isNew)
        {
            return SubscribeOutcome.SessionEnded;
        }

        CollectRetained(subscription, isNew, retained);
        return SubscribeOutcome.Subscribed;
    }

    /// <summary>
    /// Retained messages matching a new subscription, with RETAIN set [MQTT-3.3.1-8], as its Retain Handling asks
    /// (§3.8.3.1); none for a shared subscription (5.0 §3.3.1.3, §4.8.2).
    /// </summary>
    private void CollectRetained(Subscription subscription, bool isNew, List<Delivery> into)
    {
        var handling = subscription.Options.RetainHandling;
        if (subscription.ShareGroup is not null || handling == RetainHandling.DoNotSend || (handling == RetainHandling.SendAtSubscribeIfNew && !isNew))
        {
            return;
        }

        var messages = new List<MqttMessage>();
        Retained.Match(subscription.MatchFilter, messages, Time.GetTimestamp());
        uint[]? ids = subscription.SubscriptionId == 0 ? null : [subscription.SubscriptionId];
        foreach (var message in messages)
        {
            var qos = (QualityOfService)Math.Min((int)message.QualityOfService, (int)subscription.Options.QualityOfService);
            into.Add(new Delivery(message, qos, Retain: true, ids) { AtSubscribe = true });
        }
    }

    /// <summary>Publishes a <c>$SYS</c> message of the broker's own: retained in memory only, never stored, then routed.</summary>
    internal void PublishStatus(MqttMessage message)
    {
        Retained.Set(message);
        Route(message);
    }

    /// <summary>Starts the monitor that enforces keep-alive, connect timeouts, stuck clients and session expiry.</summary>
    public void Start() => _monitor ??= MonitorAsync(_stopping.Token);

    /// <summary>Decides on every CONNECT; every client is accepted until one is set (before <see cref="Start"/>).</summary>
    public IConnectAuthenticator Authenticator { get; init; } = AnyClient.Instance;

    /// <summary>Cancelled when the broker is disposed: what authenticators still working on a CONNECT observe.</summary>
    internal CancellationToken Stopping { get; }

    /// <summary>Serves one client connection until it ends.</summary>
    /// <param name="transport">The connection's byte streams.</param>
    /// <param name="connection">How the client came in: listener, transport, endpoints, client certificate.</param>
    public Task HandleConnectionAsync(IDuplexPipe transport, ConnectionInfo connection)
    {
        // Not an async method: one fewer state machine kept per connection. The client removes itself when it ends.
        var client = new MqttConnection(this, transport, connection);
        _connections.TryAdd(client, 0);
        return client.RunAsync();
    }

    /// <summary>Called by a connection as the last step of its end.</summary>
    internal void RemoveConnection(MqttConnection connection) => _connections.TryRemove(connection, out _);

    internal Session? FindSession(string clientId) => _sessions.GetValueOrDefault(clientId);

    /// <summary>Publishes a message made by the server (or the admin API) as if a client had sent it.</summary>
    public int Publish(MqttMessage message)
    {
        if (message.Retain)
        {
            SetRetained(message);
        }

        return Route(message);
    }

    /// <summary>
    /// Hands the message to every session with a matching subscription: one copy per session at the
    /// highest QoS of its matching subscriptions, never above the published QoS ([MQTT-3.3.4-2] and
    /// 3.1.1 §3.3.5). Never waits on a subscriber. Returns the number of sessions reached.
    /// </summary>
    internal int Route(MqttMessage message)
    {
        var matches = t_matches ??= [];
        Subscriptions.Match(message.Topic, matches);
        try
        {
            if (matches.Count == 0 && !message.Retain)
            {
                // A retained message is kept; any other goes nowhere.
                Statistics.MessagesDroppedAdd(DropReason.NoSubscribers);
                return 0;
            }

            var delivered = TakeShared(matches) ? RouteToSharedGroups(message) : 0;
            if (matches.Count <= 1)
            {
                return delivered + (matches.Count == 1 && Deliver(matches[0], message, matches[0].SubscriptionId == 0 ? null : [matches[0].SubscriptionId]) ? 1 : 0);
            }

            return delivered + RouteToEachSessionOnce(message, matches);
        }
        finally
        {
            matches.Clear();
        }
    }

    /// <summary>Moves the shared subscriptions out of <paramref name="matches"/> into the thread's shared list.</summary>
    private static bool TakeShared(List<Subscription> matches)
    {
        var shared = t_shared ??= [];
        var kept = 0;
        for (var i = 0; i < matches.Count; i++)
        {
            if (matches[i].ShareGroup is null)
            {
                matches[kept++] = matches[i];
            }
            else
            {
                shared.Add(matches[i]);
            }
        }

        matches.RemoveRange(kept, matches.Count - kept);
        return shared.Count > 0;
    }

    /// <summary>One member of each matching shared subscription gets the message (5.0 §4.8.2); never retained-as-published.</summary>
    private int RouteToSharedGroups(MqttMessage message, Session? exclude = null)
    {
        var shared = t_shared!;
        var members = t_members ??= [];
        var delivered = 0;
        try
        {
            while (shared.Count > 0)
            {
                // Gather the members of the first group left, then pick one.
                var group = shared[^1];
                for (var i = shared.Count - 1; i >= 0; i--)
                {
                    var candidate = shared[i];
                    if (candidate.ShareGroup == group.ShareGroup && candidate.MatchFilter == group.MatchFilter)
                    {
                        if (!ReferenceEquals(candidate.Session, exclude))
                        {
                            members.Add(candidate);
                        }

                        shared.RemoveAt(i);
                    }
                }

                if (members.Count == 0)
                {
                    // Only when handing over: the departing member was the group's last.
                    Statistics.MessagesDroppedAdd(DropReason.NoSubscribers);
                }
                else
                {
                    while (true)
                    {
                        var chosen = _sharedGroups.Choose(group.TopicFilter, members, message.PublisherId);
                        var qos = (QualityOfService)Math.Min((int)message.QualityOfService, (int)chosen.Options.QualityOfService);
                        var ids = chosen.SubscriptionId == 0 ? null : new[] { chosen.SubscriptionId };
                        if (TryDeliver(chosen.Session, new Delivery(message, qos, Retain: false, ids, chosen), out var sessionEnded))
                        {
                            delivered++;
                            break;
                        }

                        // Its session ended after it was chosen (the member just left): another member has it (5.0 §4.8.2).
                        members.Remove(chosen);
                        if (!sessionEnded || members.Count == 0)
                        {
                            Statistics.MessagesDroppedAdd(DropReason.SessionEnded, sessionEnded ? 1 : 0);
                            break;
                        }
                    }

                    members.Clear();
                }
            }

            return delivered;
        }
        finally
        {
            shared.Clear();
            members.Clear();
        }
    }

    /// <summary>Gives the messages a departing member got through shared subscriptions to the other members.</summary>
    private void HandOverSharedDeliveries(List<Delivery> orphans, Session session)
    {
        foreach (var delivery in orphans)
        {
            var matches = t_matches ??= [];
            Subscriptions.Match(delivery.Message.Topic, matches);
            var shared = t_shared ??= [];
            foreach (var match in matches)
            {
                if (match.ShareGroup == delivery.Shared!.ShareGroup && match.MatchFilter == delivery.Shared.MatchFilter)
                {
                    shared.Add(match);
                }
            }

            matches.Clear();
            if (shared.Count == 0)
            {
                Statistics.MessagesDroppedAdd(DropReason.NoSubscribers);
                continue;
            }

            RouteToSharedGroups(delivery.Message, exclude: session);
        }
    }

    private int RouteToEachSessionOnce(MqttMessage message, List<Subscription> matches)
    {
        var bySession = t_bySession ??= new Dictionary<Session, int>(ReferenceEqualityComparer.Instance);
        var ids = t_subscriptionIds ??= [];
        try
        {
            // One entry per session: the highest QoS of its matching subscriptions, Retain As Published if
            // any asks for it, and every subscription identifier [MQTT-3.3.4-3] (5.0 sends one copy with all).
            var sessions = 0;
            for (var i = 0; i < matches.Count; i++)
            {
                var match = matches[i];
                if (match.Options.NoLocal && match.Session.ClientId == message.PublisherId)
                {
                    continue;
                }

                if (bySession.TryGetValue(match.Session, out var index))
                {
                    var kept = matches[index];
                    var qos = (QualityOfService)Math.Max((int)kept.Options.QualityOfService, (int)match.Options.QualityOfService);
                    var options = kept.Options with
                    {
                        QualityOfService = qos,
                        RetainAsPublished = kept.Options.RetainAsPublished || match.Options.RetainAsPublished,
                    };
                    matches[index] = kept with { Options = options };
                    ids[index] = match.SubscriptionId == 0 ? ids[index] : [.. ids[index] ?? [], match.SubscriptionId];
                }
                else
                {
                    bySession[match.Session] = sessions;
                    matches[sessions] = match;
                    ids.Add(match.SubscriptionId == 0 ? null : [match.SubscriptionId]);
                    sessions++;
                }
            }

            var delivered = 0;
            for (var i = 0; i < sessions; i++)
            {
                if (Deliver(matches[i], message, ids[i]))
                {
                    delivered++;
                }
            }

            return delivered;
        }
        finally
        {
            bySession.Clear();
            ids.Clear();
        }
    }

    private bool Deliver(Subscription subscription, MqttMessage message, uint[]? subscriptionIds)
    {
        var options = subscription.Options;
        if (options.NoLocal && subscription.Session.ClientId == message.PublisherId)
        {
            // [MQTT-3.8.3-3]
            return false;
        }

        var qos = (QualityOfService)Math.Min((int)message.QualityOfService, (int)options.QualityOfService);

        // [MQTT-3.3.1-12] (3.1.1 [MQTT-3.3.1-9]): RETAIN is 0 on live delivery unless Retain As Published.
        var retain = options.RetainAsPublished && message.Retain;
        return Deliver(subscription.Session, new Delivery(message, qos, retain, subscriptionIds));
    }

    internal bool Deliver(Session session, in Delivery delivery)
    {
        if (TryDeliver(session, delivery, out var sessionEnded))
        {
            return true;
        }

        Statistics.MessagesDroppedAdd(DropReason.SessionEnded, sessionEnded ? 1 : 0);
        return false;
    }

    /// <summary>
    /// <see cref="Deliver(Session, in Delivery)"/>, except that a session that has ended is only reported in
    /// <paramref name="sessionEnded"/>, not counted: the caller may give the message to another session.
    /// </summary>
    private bool TryDeliver(Session session, in Delivery delivery, out bool sessionEnded)
    {
        sessionEnded = false;
        switch (session.Enqueue(delivery, Options, out var dropped))
        {
            case EnqueueResult.Queued:
                return true;
            case EnqueueResult.DroppedOldest:
                CountQueueFullDrops(session, dropped);
                return true;
            case EnqueueResult.DroppedNew:
                CountQueueFullDrops(session, dropped);
                return false;
            case EnqueueResult.SkippedOffline:
                Statistics.MessagesDroppedAdd(DropReason.OfflineQoS0);
                return false;
            default:
                sessionEnded = true;
                return false;
        }
    }

    private void CountQueueFullDrops(Session session, int dropped)
    {
        Statistics.MessagesDroppedAdd(DropReason.QueueFull, dropped);
        var now = Time.GetTimestamp();
        if (session.ShouldLogQueueFull(now, QueueFullLogPeriod * Time.TimestampFrequency))
        {
            BrokerLog.QueueFull(Logger, session.ClientId, Options.QueueOverflowPolicy, session.QueueFullDrops);
        }
    }

    /// <summary>
    /// Binds a connection to the session of its client id. An existing connection with that id is
    /// closed (5.0: DISCONNECT 0x8E) and the session continues, unless Clean Start asks for a new one.
    /// </summary>
    internal bool AttachSession(MqttConnection connection, string clientId, bool cleanStart, uint expiryInterval, ConnAckPacket connAck)
    {
        MqttConnection? previous;
        Will? endedSessionWill = null;
        Session session;
        bool present;
        lock (_sessionsLock)
        {
            var existing = _sessions.GetValueOrDefault(clientId);
            previous = existing?.Connection;

            // [MQTT-3.1.3-9]: a reconnect before the Will Delay ends cancels the will; a clean start ends
            // the old session, and with it the delay.
            var pendingWill = existing is null ? null : _wills.Take(existing);
            endedSessionWill = cleanStart || existing?.ExpiryInterval == 0 ? pendingWill : null;
            if (existing is not null && previous is not null)
            {
                existing.Detach(previous, Time.GetTimestamp(), Time.GetUtcNow());
            }

            // A session with expiry 0 ends with its connection: a new connection never resumes it, even
            // when it takes over before that connection has closed (3.1.1 [MQTT-3.1.2-6], 5.0 §3.1.2.11.2).
            if (existing is null || cleanStart || existing.ExpiryInterval == 0)
            {
                if (existing is not null)
                {
                    DiscardSession(existing);
                }

                session = new Session(clientId, _persistence);
                _sessions[clientId] = session;
                present = false;
            }
            else
            {
                session = existing;
                present = true;
            }

            session.ExpiryInterval = expiryInterval;
            session.Attach(connection);
            connection.Attached(session, present, connAck);
        }

        if (previous is not null)
        {
            BrokerLog.SessionTakenOver(Logger, clientId, connection.Endpoint);
            previous.Close(ReasonCode.SessionTakenOver, "session taken over by another connection");
        }

        if (endedSessionWill is not null)
        {
            Publish(endedSessionWill.ToMessage(Time));
        }

        Statistics.ConnectionAccepted();
        RaiseClientConnectionChanged(clientId, connection.Endpoint, connected: true);
        return present;
    }

    /// <summary>
    /// Detaches the connection; a session with expiry 0 ends with it. The will, unless a normal
    /// DISCONNECT removed it, is published now or after its delay (5.0 §3.1.3.2.2): on a takeover it is
    /// published unless the session continues and the delay is above zero.
    /// </summary>
    internal void OnConnectionClosed(MqttConnection connection, Session? session, Will? will)
    {
        if (session is null)
        {
            return;
        }

        var publishNow = false;
        var detached = false;
        List<Delivery>? orphans = null;
        lock (_sessionsLock)
        {
            var now = Time.GetTimestamp();
            if (session.Detach(connection, now, Time.GetUtcNow()))
            {
                detached = true;

                // What it got through shared subscriptions goes to the other members of their groups; a session that
                // ends gives it up in the same turn of its lock as it ends.
                if (session.ExpiryInterval == 0)
                {
                    orphans = [];
                    RemoveSession(session, orphans);
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
                        var delay = Math.Min(will.Delay, session.ExpiryInterval);
                        _wills.Add(session, will, now + (long)(delay * (double)Time.TimestampFrequency));
                    }
                }
            }
            else
            {
                // Taken over: by a clean start (the old session was discarded) or by a resumed session.
                publishNow = will is not null && (will.Delay == 0 || session.Discarded);
            }
        }

        if (orphans is not null)
        {
            HandOverSharedDeliveries(orphans, session);
        }

        if (publishNow)
        {
            Publish(will!.ToMessage(Time));
        }

        if (detached)
        {
            RaiseClientConnectionChanged(session.ClientId, connection.Endpoint, connected: false);
        }
    }

    /// <summary>
    /// Stops this broker on its own: refuses new CONNECTs, stops routing, lets queued messages and
    /// QoS 1/2 flows finish for up to <paramref name="drainTimeout"/>, then closes every connection
    /// (5.0 clients get DISCONNECT 0x8B as the last packet [MQTT-3.14.4-1]). Wills do not fire.
    /// </summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        if (Interlocked.CompareExchange(ref _state, (int)BrokerState.Draining, (int)BrokerState.Running) != (int)BrokerState.Running)
        {
            return;
        }

        var started = Time.GetTimestamp();
        while (Time.GetElapsedTime(started) < drainTimeout && HasUndelivered())
        {
            await Task.Delay(DrainPollInterval, Time).ConfigureAwait(false);
        }

        foreach (var connection in _connections.Keys)
        {
            connection.CloseForShutdown();
        }

        while (Time.GetElapsedTime(started) < drainTimeout + CloseTimeout && !_connections.IsEmpty)
        {
            await Task.Delay(DrainPollInterval, Time).ConfigureAwait(false);
        }

        Volatile.Write(ref _state, (int)BrokerState.Stopped);
    }

    private bool HasUndelivered()
    {
        foreach (var connection in _connections.Keys)
        {
            if (connection.HasUndelivered)
            {
                return true;
            }
        }

        return false;
    }

    internal string NewClientId() => $"iothub-{Guid.NewGuid():N}-{Interlocked.Increment(ref _assignedIds)}";

    internal void LogConnectRefused(string endpoint, string clientId, string? userName, ReasonCode reasonCode, string reason)
    {
        if (_refusedConnectLog.TryAcquire(out var suppressed))
        {
            if (suppressed > 0)
            {
                BrokerLog.ConnectRefusalsSuppressed(Logger, suppressed);
            }

            BrokerLog.ConnectRefused(Logger, endpoint, clientId, userName, reasonCode, reason);
        }
    }

    /// <summary>Logs a refused PUBLISH, at most 20 lines every 10 s for all clients together: one noisy client cannot fill the log.</summary>
    internal void LogPublishRefused(string clientId, string topic, string reason)
    {
        if (_refusedPublishLog.TryAcquire(out var suppressed))
        {
            if (suppressed > 0)
            {
                BrokerLog.PublishRefusalsSuppressed(Logger, suppressed);
            }

            BrokerLog.PublishRefused(Logger, clientId, topic, reason);
        }
    }

    private void RemoveSession(Session session, List<Delivery>? sharedOrphans = null)
    {
        if (_sessions.TryGetValue(session.ClientId, out var current) && ReferenceEquals(current, session))
        {
            _sessions.TryRemove(session.ClientId, out _);
        }

        DiscardSession(session, sharedOrphans);
    }

    private void PublishDueWills(long now)
    {
        var due = new List<Will>();
        _wills.TakeDue(now, due);
        foreach (var will in due)
        {
            Publish(will.ToMessage(Time));
        }
    }

    private void DiscardSession(Session session, List<Delivery>? sharedOrphans = null) =>
        Statistics.MessagesDroppedAdd(DropReason.SessionEnded, session.Discard(Subscriptions, sharedOrphans));

    private async Task MonitorAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(Options.MonitorInterval, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                try
                {
                    var now = Time.GetTimestamp();
                    foreach (var connection in _connections.Keys)
                    {
                        connection.CheckTimers(now);
                    }

                    ExpireSessions(now);
                    PublishDueWills(now);
                    Retained.RemoveExpired(now);
                    _sysTopics.PublishIfDue(now);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // One bad round (storage closing under it, say) must not end the monitor.
                    BrokerLog.MonitorFailed(Logger, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void ExpireSessions(long now)
    {
        foreach (var session in _sessions.Values)
        {
            var disconnectedAt = session.DisconnectedAt;
            if (disconnectedAt == 0 || session.ExpiryInterval == uint.MaxValue
                || Time.GetElapsedTime(disconnectedAt, now).TotalSeconds < session.ExpiryInterval)
            {
                continue;
            }

            Will? will = null;
            lock (_sessionsLock)
            {
                // Re-check under the lock: the client may have come back meanwhile.
                if (session.Connection is null && session.DisconnectedAt == disconnectedAt && !session.Discarded)
                {
                    RemoveSession(session);
                    BrokerLog.SessionExpired(Logger, session.ClientId);

                    // The session ended before the will's delay: the will goes now [MQTT-3.1.3-9], once the lock is
                    // released, as every publish is: connects and takeovers never wait for its routing.
                    will = _wills.Take(session);
                }
            }

            if (will is not null)
            {
                Publish(will.ToMessage(Time));
            }
        }
    }

    /// <summary>Stops without draining (see <see cref="StopAsync"/>) and ends the monitor.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);

        if (_monitor is not null)
        {
            await _monitor.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }
}
