namespace IoTHub.Broker.Routing;

/// <summary>What subscribing a session to a filter did, for a SUBSCRIBE from its client and the admin API alike.</summary>
internal enum SubscribeOutcome
{
    Subscribed,

    /// <summary>Not a valid filter, or beyond the topic limits.</summary>
    InvalidFilter,

    /// <summary>The session holds Mqtt:MaximumSubscriptionsPerClient already.</summary>
    QuotaExceeded,

    /// <summary>The access rules do not let the client subscribe to the filter.</summary>
    NotAuthorized,

    /// <summary>The session ended meanwhile (a clean start took it over).</summary>
    SessionEnded,
}
