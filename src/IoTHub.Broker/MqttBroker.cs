using System.Collections.Concurrent;
using System.IO.Pipelines;
using IoTHub.Broker.Connect;
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

    // Enumerated, never through Keys: Keys takes every lock of the map and copies it into a new list, which the
    // monitor's round once a second made 16 B per connection of garbage (issue 14, defect 8).
    private readonly ConcurrentDictionary<MqttConnection, byte> _connections = new();
    private readonly LogRateLimiter _refusedConnectLog;
    private readonly PerClientLogLimiter _refusedCredentialsLog;
    private readonly LogRateLimiter _refusedPublishLog;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _monitor;
    private readonly WillScheduler _wills;
    private Persistence _persistence = Persistence.None;
    private ISharedSessionStore? _sharedSessions;
    private readonly SysTopics _sysTopics;
    private long _assignedIds;
    private int _disposed;
    private int _state;
    private volatile ConnectRefusal? _notServing;

    public MqttBroker(BrokerOptions options, ILogger<MqttBroker>? logger = null, TimeProvider? time = null)
    {
        Options = options;
        Logger = logger ?? NullLogger<MqttBroker>.Instance;
        Time = time ?? TimeProvider.System;
        _refusedConnectLog = new LogRateLimiter(linesPerPeriod: 20, TimeSpan.FromSeconds(10), Time);
        _refusedCredentialsLog = new PerClientLogLimiter(TimeSpan.FromMinutes(1), Time);
        _refusedPublishLog = new LogRateLimiter(linesPerPeriod: 20, TimeSpan.FromSeconds(10), Time);
        _sysTopics = new SysTopics(this);
        Router = new MessageRouter(options, Statistics, Time, Logger);
        _wills = new WillScheduler(Time, message => Publish(message));
        Registry = new SessionRegistry(Router, _wills, Statistics, Time, Logger);
        Admission = new ConnectAdmission(this);
        StartedAt = Time.GetTimestamp();
        Stopping = _stopping.Token;
    }

    public BrokerState State => (BrokerState)Volatile.Read(ref _state);

    /// <summary>Why a CONNECT is refused now whoever sends it: the broker stops, or stopped serving (<see cref="StopServing"/>); null while it serves.</summary>
    internal ConnectRefusal? NotServing => State != BrokerState.Running ? ConnectRefusal.Stopping : _notServing;

    /// <summary>Delayed wills not yet published.</summary>
    public int PendingWillCount => _wills.Count;

    public BrokerOptions Options { get; }

    /// <summary>The name the host gives this broker (<c>default</c>, or one of <c>Mqtt:Brokers</c>), as the access audit records it.</summary>
    public string Name { get; init; } = "default";

    /// <summary>Who gets a message: the subscription tree, shared groups and retained messages.</summary>
    internal MessageRouter Router { get; }

    /// <summary>Client id -> session, takeover and expiry.</summary>
    internal SessionRegistry Registry { get; }

    /// <summary>What is decided about a CONNECT before the authenticator is asked.</summary>
    internal ConnectAdmission Admission { get; }

    internal SubscriptionTree Subscriptions => Router.Subscriptions;

    internal RetainedStore Retained => Router.Retained;

    /// <summary>The rules for topic names and filters, shared by connections and the admin API.</summary>
    internal TopicPolicy Topics => Router.Topics;

    /// <summary>Subscriptions in the topic tree, every session's.</summary>
    public int SubscriptionCount => Subscriptions.Count;

    /// <summary>Retained messages kept (expired ones until the monitor removes them).</summary>
    public int RetainedCount => Retained.Count;

    /// <summary>
    /// Of <see cref="RetainedCount"/>, those whose topic starts with '$' (the broker's <c>$SYS/...</c>, and any '$' topic the
    /// admin API set), which no filter starting with a wildcard matches [MQTT-4.7.2-1]; counted without a walk.
    /// </summary>
    public int RetainedSysCount => Retained.ServerCount;

    public BrokerStatistics Statistics { get; } = new();

    public int ConnectionCount => _connections.Count;

    public int SessionCount => Registry.Count;

    /// <summary>Sessions whose queue is at its limit now (see <see cref="SessionSnapshot.QueueFull"/>); read without locks.</summary>
    public int FullSessionCount => Registry.FullCount;

    /// <summary>When the broker was created, for $SYS uptime.</summary>
    internal long StartedAt { get; }

    internal ILogger Logger { get; }

    internal TimeProvider Time { get; }

    /// <summary>
    /// Makes this broker keep its state in storage: rebuilds what <paramref name="state"/> holds
    /// (retained messages, persistent sessions with their queues and in-flight messages, delayed
    /// wills) and from now on writes every change through <paramref name="writer"/>. Call before
    /// <see cref="Start"/>. Times stored as wall-clock times continue from now. A queued or retained message whose expiry
    /// passed while the broker was down is deleted instead [MQTT-3.3.2-5]: a queued one counts as dropped for expiry, a
    /// retained one is not counted (as when it expires while the broker runs). In a cluster, <paramref name="sharedSessions"/> is the
    /// store the nodes share, where a session claimed from another node is read (see <see cref="AttachSessionOwners"/>).
    /// </summary>
    public void AttachStorage(StorageWriter writer, StoredState state, ISharedSessionStore? sharedSessions = null)
    {
        _persistence = new Persistence(writer);
        _sharedSessions = sharedSessions;
        var now = Time.GetTimestamp();
        var utcNow = Time.GetUtcNow();
        Retained.Reserve(state.Retained.Count);
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
            Registry.Restore(RestoreSession(stored, now, utcNow));
        }

        foreach (var will in state.Wills)
        {
            if (Registry.Find(will.ClientId) is { } session)
            {
                var dueIn = Math.Max(0, (will.DueAt - utcNow).TotalSeconds);
                _wills.Hold(session, new Will(will.Message, will.ClientId, will.DelayInterval, will.ExpiryInterval), now + (long)(dueIn * Time.TimestampFrequency));
            }
        }

        _wills.Persistence = _persistence;
        Registry.Persistence = _persistence;

        // Either may come first: the store, or the cluster's arbiter (AttachSessionOwners).
        Registry.StoresConnectionWills = sharedSessions is not null && SessionOwners is not null;
    }

    /// <summary>A stored session rebuilt on the broker's clock, its subscriptions in the tree; its messages that expired meanwhile are dropped.</summary>
    private Session RestoreSession(StoredSession stored, long now, DateTimeOffset utcNow)
    {
        var offlineFor = utcNow - (stored.DisconnectedAt ?? utcNow);
        var session = new Session(stored.ClientId, _persistence);
        var expired = session.Restore(stored, now - (long)(Math.Max(0, offlineFor.TotalSeconds) * Time.TimestampFrequency), Subscriptions,
            Time, now, utcNow);
        Statistics.MessagesDroppedAdd(DropReason.Expired, expired);
        return session;
    }

    /// <summary>
    /// <see cref="SetRetained"/> for the admin API: completes once the change is stored (strict durability; at once when
    /// relaxed or in memory), faults when its commit failed, as a client's PUBACK would not come. In a cluster the other nodes
    /// then keep it too.
    /// </summary>
    /// <returns>The message as kept (see <see cref="MqttMessage.KeptAsRetained"/>).</returns>
    public async Task<MqttMessage> SetRetainedAsync(MqttMessage message)
    {
        Persistence.BeginPacket();
        var kept = SetRetained(message);
        await (Persistence.EndPacket() ?? Task.CompletedTask).ConfigureAwait(false);
        Router.ShareRetained(message);
        return kept;
    }

    /// <summary>
    /// Stores, replaces or (empty payload) deletes a retained message, in memory and in storage, without delivering it; a kept one
    /// carries when it was kept and the user name its publisher logged in with.
    /// </summary>
    internal MqttMessage SetRetained(MqttMessage message, string? publisherUserName = null)
    {
        var kept = KeepRetained(message, publisherUserName);
        _persistence.Write(message.Payload.IsEmpty ? StorageOperation.DeleteRetained(message.Topic) : StorageOperation.SetRetained(kept));
        return kept;
    }

    /// <summary>Keeps, replaces or (empty payload) deletes a retained message in memory only; returns it as kept.</summary>
    private MqttMessage KeepRetained(MqttMessage message, string? publisherUserName)
    {
        var kept = message.Payload.IsEmpty ? message : message.KeptAsRetained(Time.GetUtcNow(), publisherUserName, message.PublisherId);
        Retained.Set(kept);
        return kept;
    }

    /// <summary>
    /// Null when the admin API may publish to <paramref name="topic"/> (or keep a retained message for it); otherwise
    /// why not: the rules and limits of a client's PUBLISH, but for the server's own <c>$</c> topics.
    /// </summary>
    public string? CheckTopicName(string topic) => Topics.RefuseTopicName(topic, fromClient: false);

    /// <summary>Publishes a <c>$SYS</c> message of the broker's own: retained in memory only, never stored, then routed.</summary>
    internal void PublishStatus(MqttMessage message)
    {
        Retained.Set(message);
        Router.Route(message);
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

    internal Session? FindSession(string clientId) => Registry.Find(clientId);

    /// <summary>Publishes a message made by the server (or the admin API) as if a client had sent it.</summary>
    public int Publish(MqttMessage message)
    {
        if (message.Retain)
        {
            SetRetained(message);
        }

        return Router.Route(message);
    }

    /// <summary>
    /// Joins this broker to the other nodes of a cluster (IoTHub.Cluster): <paramref name="remote"/> is told of this node's filters
    /// and gets every message routed here to forward. Call once, before clients connect.
    /// </summary>
    public void AttachRemoteRoutes(IRemoteRoutes remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        Router.AttachRemote(remote);
    }

    /// <summary>
    /// Delivers a message another node forwarded to this node's sessions only, as they get a local one (QoS capped per
    /// subscription, RETAIN 0 but for Retain As Published), and never forwards it again (see <see cref="MessageRouter.RouteForwarded"/>).
    /// A retained one is kept (an empty one deletes) in memory only: the node it was published on stored it, in the store
    /// the nodes share (docs/clustering.md). Returns the sessions reached.
    /// </summary>
    public int RouteForwarded(MqttMessage message, bool toSubscribers, string[] sharedGroups)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Retain && Options.RetainAvailable)
        {
            KeepRetained(message, publisherUserName: null);
        }

        return Router.RouteForwarded(message, toSubscribers, sharedGroups);
    }

    /// <summary>
    /// Starts collecting what the messages this thread routes next (<see cref="RouteForwarded"/>) store for persistent sessions,
    /// until <see cref="EndForwardedBatch"/>: a node accepts a batch another node forwarded once that is committed. It all goes into
    /// one commit, with the batch's receipt; no await until <see cref="EndForwardedBatch"/>, which must follow on this thread.
    /// </summary>
    public void BeginForwardedBatch()
    {
        _persistence.BeginGroup();
        Persistence.BeginPacket();
    }

    /// <summary>
    /// Writes <paramref name="receipt"/> (<see cref="StorageOperation.ForwardReceipt"/>), when given, the nodes share this store and the
    /// messages routed since <see cref="BeginForwardedBatch"/> stored something, in the commit of what they stored; completes when that is
    /// committed (strict durability), faults when the commit failed; null when there is nothing to wait for.
    /// </summary>
    public Task? EndForwardedBatch(in StorageOperation? receipt)
    {
        _persistence.EndGroup(_sharedSessions is null ? null : receipt);
        return Persistence.EndPacket();
    }

    /// <summary>Whether this broker's store keeps forward receipts: the nodes of its cluster share it (<see cref="ISharedSessionStore"/>).</summary>
    public bool KeepsForwardReceipts => _sharedSessions is not null;

    /// <summary>
    /// Fences cluster node <paramref name="toNode"/>, declared dead, and returns those of <paramref name="sequences"/>, calls of node
    /// <paramref name="fromNode"/>, that it committed (<see cref="ISharedSessionStore.FenceForwardsAsync"/>).
    /// </summary>
    public Task<long[]> FenceForwardsAsync(string fromNode, string toNode, long[] sequences, CancellationToken cancellationToken) =>
        _sharedSessions?.FenceForwardsAsync(fromNode, toNode, sequences, cancellationToken)
            ?? throw new InvalidOperationException("The broker's store is not shared by the nodes of a cluster: it keeps no forward receipts.");

    /// <summary>
    /// Binds a connection to the session of its client id (see <see cref="SessionRegistry.Attach"/>); returns whether the session was
    /// present, null when another node of the cluster took the client id since the connection claimed it.
    /// </summary>
    internal bool? AttachSession(MqttConnection connection, string clientId, bool cleanStart, uint expiryInterval, ConnAckPacket connAck)
    {
        if (Registry.Attach(connection, clientId, cleanStart, expiryInterval, connAck, connection.SessionClaim) is not { } present)
        {
            return null;
        }

        Statistics.ConnectionAccepted();
        RaiseClientConnectionChanged(clientId, connection.Endpoint, connected: true);
        return present;
    }

    /// <summary>Called by a connection as it ends: detaches it from its session (see <see cref="SessionRegistry.Detach"/>).</summary>
    internal void OnConnectionClosed(MqttConnection connection, Session? session, Will? will)
    {
        if (session is not null && Registry.Detach(connection, session, will))
        {
            RaiseClientConnectionChanged(session.ClientId, connection.Endpoint, connected: false, connection.CloseReason);
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

        foreach (var (connection, _) in _connections)
        {
            connection.CloseForShutdown();
        }

        while (Time.GetElapsedTime(started) < drainTimeout + CloseTimeout && !_connections.IsEmpty)
        {
            await Task.Delay(DrainPollInterval, Time).ConfigureAwait(false);
        }

        Volatile.Write(ref _state, (int)BrokerState.Stopped);
    }

    /// <summary>
    /// Stops serving clients while the broker keeps running, because this node must not (it lost its cluster's membership
    /// store: docs/clustering.md#split-brain): new CONNECTs are refused with 0x88 Server unavailable (3.1.1: return code 3),
    /// and every connection is closed, 5.0 clients with DISCONNECT 0x9C Use another server (0x88 is no DISCONNECT reason
    /// code, [MQTT-3.14.2-1]). Wills do not fire: the server left, not the client. Until <see cref="ResumeServing"/>.
    /// </summary>
    public void StopServing(string reason)
    {
        _notServing = new ConnectRefusal(ReasonCode.ServerUnavailable, reason);
        foreach (var (connection, _) in _connections)
        {
            connection.CloseForUnavailable(reason);
        }
    }

    /// <summary>Takes clients again after <see cref="StopServing"/>.</summary>
    public void ResumeServing() => _notServing = null;

    private bool HasUndelivered()
    {
        foreach (var (connection, _) in _connections)
        {
            if (connection.HasUndelivered)
            {
                return true;
            }
        }

        return false;
    }

    internal string NewClientId() => $"iothub-{Guid.NewGuid():N}-{Interlocked.Increment(ref _assignedIds)}";

    /// <summary>
    /// Logs a refused CONNECT, at most 20 lines every 10 s for all clients together; a refusal for the client's credentials
    /// (<paramref name="authentication"/>) at most once a minute per client id on top (the user name is said, never the password).
    /// </summary>
    internal void LogConnectRefused(string endpoint, string clientId, string? userName, ReasonCode reasonCode, string reason, bool authentication)
    {
        if ((!authentication || _refusedCredentialsLog.TryAcquire(clientId)) && _refusedConnectLog.TryAcquire(out var suppressed))
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

    private async Task MonitorAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(Options.MonitorInterval, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                try
                {
                    CheckTimers(Time.GetTimestamp());
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

    /// <summary>One round of the monitor: every connection's timers, session expiry, due wills, expired retained messages, <c>$SYS</c>.</summary>
    internal void CheckTimers(long now)
    {
        foreach (var (connection, _) in _connections)
        {
            connection.CheckTimers(now);
        }

        Registry.Expire(now);
        _wills.PublishDue(now);
        Retained.RemoveExpired(now);
        _sysTopics.PublishIfDue(now);
    }

    /// <summary>Stops without draining (see <see cref="StopAsync"/>) and ends the monitor.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        DetachAuthorizer();
        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);

        if (_monitor is not null)
        {
            await _monitor.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }
}
