using IoTHub.Broker.Messages;
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
    DateTimeOffset? ConnectedAt);

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
    /// <summary>Every session, connected or not.</summary>
    public IReadOnlyList<SessionSnapshot> GetSessions() => [.. EnumerateSessions()];

    /// <summary>Every session, connected or not, each read as it is reached (nothing is copied up front): for lists that keep one page.</summary>
    public IEnumerable<SessionSnapshot> EnumerateSessions()
    {
        foreach (var session in Registry.All)
        {
            yield return session.Snapshot();
        }
    }

    /// <summary>Every subscription of every session, read session by session as they are reached.</summary>
    public IEnumerable<SubscriptionSnapshot> EnumerateSubscriptions()
    {
        List<Subscription> subscriptions = [];
        foreach (var session in Registry.All)
        {
            session.CopySubscriptionsTo(subscriptions);
            foreach (var subscription in subscriptions)
            {
                yield return Snapshot(session, subscription);
            }
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

    public SessionSnapshot? GetSession(string clientId) => Registry.Find(clientId)?.Snapshot();

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

        connection.Close(ReasonCode.AdministrativeAction, reason);
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
                connection.Close(ReasonCode.NotAuthorized, reason);
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

        connection?.Close(ReasonCode.AdministrativeAction, "session deleted by an administrator");
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

        var retained = new List<Delivery>();
        switch (Router.Subscribe(session, topicFilter, options, subscriptionId: 0, retained, out _))
        {
            case SubscribeOutcome.InvalidFilter:
                return AdminSubscribeResult.InvalidFilter;
            case SubscribeOutcome.QuotaExceeded:
                return AdminSubscribeResult.QuotaExceeded;
            case SubscribeOutcome.SessionEnded:
                return AdminSubscribeResult.NoSuchSession;
        }

        foreach (var delivery in retained)
        {
            Router.Deliver(session, delivery);
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

    private static List<SubscriptionSnapshot> SubscriptionsOf(Session session) => [.. session.GetSubscriptions().Select(s => Snapshot(session, s))];

    private static SubscriptionSnapshot Snapshot(Session session, Subscription subscription) =>
        new(session.ClientId, subscription.TopicFilter, subscription.Options, subscription.SubscriptionId);
}
