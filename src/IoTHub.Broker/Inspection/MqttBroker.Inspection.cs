using IoTHub.Broker.Connections;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Retained;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Sessions;
using IoTHub.Mqtt;

namespace IoTHub.Broker;

/// <summary>One session as the admin API sees it, copied at the moment it was read (a value: lists read 100 000 of them per page without allocating).</summary>
/// <param name="Endpoint">The remote endpoint of the attached connection; null while offline.</param>
/// <param name="ProtocolVersion">The protocol version of the attached connection; null while offline.</param>
/// <param name="UserName">The user name the attached connection sent in CONNECT; null while offline or when it sent none.</param>
/// <param name="QueueFull">Whether its queue is at its limit now: new messages drop per the overflow policy.</param>
/// <param name="QueueFullDrops">Messages it lost to its full queue since it began.</param>
/// <param name="ConnectedAt">When the attached connection's CONNECT was accepted; null while offline.</param>
/// <param name="Counters">Its clients' traffic and its drops, read live (not copied with the rest).</param>
public readonly record struct SessionSnapshot(
    string ClientId,
    bool IsConnected,
    string? Endpoint,
    string? UserName,
    MqttProtocolVersion? ProtocolVersion,
    uint ExpiryInterval,
    int QueuedMessages,
    int InflightMessages,
    int SubscriptionCount,
    bool QueueFull,
    long QueueFullDrops,
    DateTimeOffset? ConnectedAt,
    ClientCounters Counters)
{
    /// <summary>The Keep Alive in seconds the attached connection goes by (the server's when a 5.0 CONNACK set one); null while offline.</summary>
    public ushort? KeepAlive { get; init; }

    /// <summary>The Clean Start (3.1.1: Clean Session) flag of the attached connection's CONNECT; null while offline.</summary>
    public bool? CleanStart { get; init; }

    /// <summary>The listener that accepted the attached connection, e.g. <c>tcp://127.0.0.1:1883</c>; null while offline.</summary>
    public string? Listener { get; init; }

    /// <summary>The attached connection's transport; null while offline.</summary>
    public TransportKind? Transport { get; init; }

    /// <summary>When its last connection ended; null while connected (or offline since a restart that lost the time).</summary>
    public DateTimeOffset? DisconnectedAt { get; init; }

    /// <summary>When the session ends unless a client connects: offline and with an expiry other than "never"; null otherwise.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Why its last connection ended (the words of the log's "client disconnected" line); null before one ended in this broker process.</summary>
    public string? LastDisconnectReason { get; init; }
}

/// <summary>
/// One session as the lists filter and order it (the admin API's and dashboard's, the alarms', the statistics'), copied at the
/// moment it was read: a value of what the walk over 100 000 sessions must read and no more. The sessions a page shows are
/// then read in full with <see cref="MqttBroker.ReadSession"/>.
/// </summary>
public readonly struct SessionListing
{
    internal SessionListing(Session session, bool isConnected, string? endpoint, string? userName, int queuedMessages, int inflightMessages, bool queueFull,
        DateTimeOffset? connectedAt)
    {
        Session = session;
        ClientId = session.ClientId;
        IsConnected = isConnected;
        Endpoint = endpoint;
        UserName = userName;
        QueuedMessages = queuedMessages;
        InflightMessages = inflightMessages;
        QueueFull = queueFull;
        ConnectedAt = connectedAt;
    }

    public string ClientId { get; }

    public bool IsConnected { get; }

    /// <summary>The remote endpoint of the attached connection; null while offline.</summary>
    public string? Endpoint { get; }

    /// <summary>The user name the attached connection sent in CONNECT; null while offline or when it sent none.</summary>
    public string? UserName { get; }

    public int QueuedMessages { get; }

    public int InflightMessages { get; }

    /// <summary>Whether its queue is at its limit now: new messages drop per the overflow policy.</summary>
    public bool QueueFull { get; }

    /// <summary>When the attached connection's CONNECT was accepted; null while offline.</summary>
    public DateTimeOffset? ConnectedAt { get; }

    /// <summary>The session itself, to read in full.</summary>
    internal Session Session { get; }
}

/// <summary>The will of a connected client as its CONNECT carried it.</summary>
/// <param name="Delay">The 5.0 Will Delay Interval in seconds (0 in 3.1.1).</param>
/// <param name="ExpiryInterval">The will's 5.0 Message Expiry Interval in seconds; null when it never expires.</param>
public sealed record WillSnapshot(string Topic, QualityOfService QualityOfService, bool Retain, uint Delay, uint? ExpiryInterval);

/// <summary>One subscription of a session, copied at the moment it was read (a value, as <see cref="SessionSnapshot"/>).</summary>
public readonly record struct SubscriptionSnapshot(string ClientId, string TopicFilter, SubscriptionOptions Options, uint SubscriptionId);

/// <summary>What an administrative subscribe did.</summary>
public enum AdminSubscribeResult
{
    Subscribed,
    NoSuchSession,
    InvalidFilter,
    QuotaExceeded,
}

/// <summary>
/// Read-only queries and administrative actions for the admin API and dashboard, built on the
/// engine's own operations so they behave like the equivalent client action.
/// </summary>
public sealed partial class MqttBroker
{
    /// <summary>Every session, connected or not, as lists filter and order them.</summary>
    public IReadOnlyList<SessionListing> GetSessions() => [.. EnumerateSessions()];

    /// <summary>Every session, connected or not, each read as it is reached (nothing is copied up front): for lists that keep one page.</summary>
    public IEnumerable<SessionListing> EnumerateSessions()
    {
        foreach (var session in Registry.All)
        {
            yield return session.Listing();
        }
    }

    /// <summary>The session of <paramref name="clientId"/> as lists filter and order it; null when there is none.</summary>
    public SessionListing? GetSessionListing(string clientId) => Registry.Find(clientId)?.Listing();

    /// <summary>A listed session read in full now (also when it ended since it was listed).</summary>
    public SessionSnapshot ReadSession(SessionListing listing) => Snapshot(listing.Session);

    /// <summary>Every subscription of every session, each read as it is reached, in the order they were made (about).</summary>
    public IEnumerable<SubscriptionSnapshot> EnumerateSubscriptions()
    {
        foreach (var subscription in Subscriptions.All)
        {
            yield return Snapshot(subscription);
        }
    }

    /// <summary>Open connections that completed CONNECT, counted by the listener that accepted them and their protocol version.</summary>
    public Dictionary<(string Listener, MqttProtocolVersion Version), int> CountConnections()
    {
        var counts = new Dictionary<(string Listener, MqttProtocolVersion Version), int>();
        foreach (var (connection, _) in _connections)
        {
            if (connection.IsConnected)
            {
                var key = (connection.Listener, connection.Version);
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }

        return counts;
    }

    public SessionSnapshot? GetSession(string clientId) => Registry.Find(clientId) is { } session ? Snapshot(session) : null;

    /// <summary>The will the connected client <paramref name="clientId"/> sent in CONNECT; null when it is not connected or sent none (or it was deleted by a normal DISCONNECT).</summary>
    public WillSnapshot? GetWill(string clientId) => Registry.Find(clientId)?.Connection?.Will is { } will
        ? new WillSnapshot(will.Topic, will.QualityOfService, will.Retain, will.Delay, will.ExpiryInterval)
        : null;

    /// <summary>The subscriptions of one session (null when there is no such session), or of all sessions.</summary>
    public IReadOnlyList<SubscriptionSnapshot>? GetSubscriptions(string? clientId = null)
    {
        if (clientId is not null)
        {
            return Registry.Find(clientId) is { } session ? SubscriptionsOf(session) : null;
        }

        return [.. EnumerateSubscriptions()];
    }

    /// <summary>Closes the client's connection (5.0 clients get DISCONNECT 0x98); false when it is not connected.</summary>
    public bool Disconnect(string clientId, string reason = "disconnected by an administrator")
    {
        if (Registry.Find(clientId)?.Connection is not { } connection)
        {
            return false;
        }

        connection.Close(ReasonCode.AdministrativeAction, reason, ConnectionCloseReason.Admin);
        return true;
    }

    /// <summary>
    /// Closes every connection of <paramref name="userName"/> that the authenticator <paramref name="method"/> let in,
    /// because that user was deleted or disabled there: 5.0 clients get DISCONNECT 0x87 Not authorized, 3.1.1 clients
    /// are closed (they have no DISCONNECT from the server). Returns how many were closed.
    /// </summary>
    public int DisconnectUser(string userName, string method, string reason)
    {
        var closed = 0;
        foreach (var (connection, _) in _connections)
        {
            if (connection.IsConnected && connection.UserName == userName && connection.AuthenticatedBy == method)
            {
                connection.Close(ReasonCode.NotAuthorized, reason, ConnectionCloseReason.NotAuthorized);
                closed++;
            }
        }

        return closed;
    }

    /// <summary>Ends the session: its connection, if any, is closed, and its queue and subscriptions are dropped.</summary>
    public bool DeleteSession(string clientId)
    {
        if (!Registry.Delete(clientId, out var connection))
        {
            return false;
        }

        connection?.Close(ReasonCode.AdministrativeAction, "session deleted by an administrator", ConnectionCloseReason.Admin);
        return true;
    }

    /// <summary>
    /// Subscribes an existing session as if its client had sent SUBSCRIBE with these options (QoS
    /// capped at the broker's maximum); matching retained messages are delivered like on a SUBSCRIBE.
    /// </summary>
    public AdminSubscribeResult Subscribe(string clientId, string topicFilter, SubscriptionOptions options)
    {
        if (Registry.Find(clientId) is not { } session)
        {
            return AdminSubscribeResult.NoSuchSession;
        }

        var retained = new List<RetainedFeed>();
        switch (Router.Subscribe(session, topicFilter, options, subscriptionId: 0, retained, out _))
        {
            case SubscribeOutcome.InvalidFilter:
                return AdminSubscribeResult.InvalidFilter;
            case SubscribeOutcome.QuotaExceeded:
                return AdminSubscribeResult.QuotaExceeded;
            case SubscribeOutcome.SessionEnded:
                return AdminSubscribeResult.NoSuchSession;
        }

        foreach (var feed in retained)
        {
            session.Feed(feed, Options.RetainedDeliveryBatch);
        }

        return AdminSubscribeResult.Subscribed;
    }

    /// <summary>Removes a subscription as if the client had sent UNSUBSCRIBE; false when it had none.</summary>
    public bool Unsubscribe(string clientId, string topicFilter) =>
        Registry.Find(clientId) is { } session && Router.Unsubscribe(session, topicFilter);

    /// <summary>The retained messages whose topic matches <paramref name="topicFilter"/>, expired ones left out.</summary>
    public IReadOnlyList<MqttMessage> GetRetained(string topicFilter)
    {
        var messages = new List<MqttMessage>();
        Retained.Match(topicFilter, messages, Time.GetTimestamp());
        return messages;
    }

    private SessionSnapshot Snapshot(Session session) => session.Snapshot(Time, Time.GetTimestamp(), Time.GetUtcNow());

    private static List<SubscriptionSnapshot> SubscriptionsOf(Session session) => [.. session.GetSubscriptions().Select(Snapshot)];

    private static SubscriptionSnapshot Snapshot(Subscription subscription) =>
        new(subscription.ClientId, subscription.TopicFilter, subscription.Options, subscription.SubscriptionId);
}
