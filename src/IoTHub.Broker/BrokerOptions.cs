using IoTHub.Mqtt;

namespace IoTHub.Broker;

/// <summary>What happens when a session's queue of undelivered messages is full.</summary>
public enum QueueOverflowPolicy
{
    /// <summary>Drop the oldest queued QoS 0 message to make room; when none is queued, drop the new message.</summary>
    DropOldestQoS0,

    /// <summary>Keep the queue as it is and drop the new message.</summary>
    DropNewest,
}

/// <summary>Whether CONNECTs are sent to another server (MQTT 5.0 §4.11).</summary>
public enum ServerRedirect
{
    None,

    /// <summary>CONNACK 0x9C Use another server, for now.</summary>
    UseAnotherServer,

    /// <summary>CONNACK 0x9D Server moved, for good.</summary>
    ServerMoved,
}

/// <summary>How a message for a shared subscription picks one member of the group (MQTT 5.0 §4.8.2).</summary>
public enum SharedSubscriptionStrategy
{
    /// <summary>Each member in turn.</summary>
    RoundRobin,

    /// <summary>A member at random.</summary>
    Random,

    /// <summary>The same member until it leaves.</summary>
    Sticky,

    /// <summary>A member chosen by a hash of the publisher's client id: one publisher's messages go to one member.</summary>
    HashClientId,
}

/// <summary>The limits and behaviour of one broker. Every limit is enforced with a reason code and a log line.</summary>
public sealed class BrokerOptions
{
    /// <summary>The largest packet accepted, fixed header included; advertised to MQTT 5.0 clients.</summary>
    public int MaximumPacketSize { get; set; } = 1_048_576;

    /// <summary>A connection that sends no CONNECT within this time is closed.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a CONNECT may wait for the authenticator's decision; past it the client is refused (5.0: 0x88 Server
    /// unavailable; 3.1.1: 0x03) and the connection closed.
    /// </summary>
    public TimeSpan AuthenticationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The most simultaneous client connections; more are refused with Server Busy / Server Unavailable.</summary>
    public int MaximumConnections { get; set; } = 100_000;

    /// <summary>QoS 1 and 2 messages sent to a client and not yet acknowledged (capped by a 5.0 client's Receive Maximum).</summary>
    public int MaximumInflightMessages { get; set; } = 32;

    /// <summary>QoS 2 messages received from a client and not yet released; advertised as the Receive Maximum.</summary>
    public int MaximumIncomingInflightMessages { get; set; } = 64;

    /// <summary>Messages waiting for a session beyond its in-flight window, online or offline.</summary>
    public int MaximumQueuedMessages { get; set; } = 1_000;

    /// <summary>
    /// Retained messages matching a new subscription are read from the store this many at a time, when the session's
    /// queue holds fewer: every one reaches a client that keeps reading, and the queue stays within its limits.
    /// </summary>
    public int RetainedDeliveryBatch { get; set; } = 100;

    /// <summary>The bytes those waiting messages may hold.</summary>
    public long MaximumQueuedBytes { get; set; } = 16 * 1024 * 1024;

    public QueueOverflowPolicy QueueOverflowPolicy { get; set; } = QueueOverflowPolicy.DropOldestQoS0;

    /// <summary>Whether QoS 0 messages are queued for persistent sessions while their client is offline.</summary>
    public bool QueueQoS0WhileOffline { get; set; }

    /// <summary>
    /// How long an MQTT 3.1/3.1.1 persistent session (Clean Session 0) is kept while its client is
    /// offline. The 3.1.1 specification sets no limit; without one such sessions would leak.
    /// </summary>
    public TimeSpan PersistentSessionLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The longest topic name or filter, in UTF-8 bytes.</summary>
    public int MaximumTopicLength { get; set; } = 65_535;

    /// <summary>The most levels a topic name or filter may have.</summary>
    public int MaximumTopicLevels { get; set; } = 128;

    public int MaximumSubscriptionsPerClient { get; set; } = 1_000;

    /// <summary>A client that accepts no data for this long while the broker has data for it is disconnected.</summary>
    public TimeSpan StuckClientTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// At shutdown (or when this broker is stopped), how long queued messages and QoS 1/2 flows may take to
    /// complete before the connections are closed. Keep it below the host's shutdown timeout.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Topic aliases an MQTT 5.0 client may set up towards the broker; announced in CONNACK (0 turns them off).</summary>
    public int TopicAliasMaximum { get; set; } = 64;

    /// <summary>When above 0, the keep-alive every MQTT 5.0 client must use, sent as Server Keep Alive [MQTT-3.2.2-21].</summary>
    public int ServerKeepAlive { get; set; }

    /// <summary>
    /// The largest keep-alive (seconds) accepted, as Mosquitto's <c>max_keepalive</c>: a 5.0 client asking for more
    /// gets this as Server Keep Alive, a 3.1/3.1.1 client is refused (return code 0x02). Below 65 535, a keep-alive of
    /// 0 (none) counts as more.
    /// </summary>
    public int MaximumKeepAlive { get; set; } = ushort.MaxValue;

    /// <summary>The highest QoS accepted from and granted to clients; announced to 5.0 clients when below 2.</summary>
    public QualityOfService MaximumQoS { get; set; } = QualityOfService.ExactlyOnce;

    /// <summary>Whether retained messages are supported; announced to 5.0 clients when not.</summary>
    public bool RetainAvailable { get; set; } = true;

    /// <summary>
    /// Returned as Response Information to 5.0 clients that request it (§3.1.2.11.7), with <c>{clientId}</c>
    /// replaced; none when empty.
    /// </summary>
    public string ResponseInformation { get; set; } = string.Empty;

    /// <summary>Send every CONNECT elsewhere (5.0: 0x9C or 0x9D with <see cref="ServerReference"/>; 3.1.1: 0x03).</summary>
    public ServerRedirect Redirect { get; set; }

    /// <summary>Where <see cref="Redirect"/> sends clients, e.g. "other-host:1883".</summary>
    public string ServerReference { get; set; } = string.Empty;

    public SharedSubscriptionStrategy SharedSubscriptionStrategy { get; set; } = SharedSubscriptionStrategy.RoundRobin;

    /// <summary>How often the $SYS topics are published.</summary>
    public TimeSpan SysInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often keep-alive, connect timeouts, stuck clients and session expiry are checked.</summary>
    public TimeSpan MonitorInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A copy, for a broker whose settings start from another's.</summary>
    public BrokerOptions Clone() => (BrokerOptions)MemberwiseClone();
}
