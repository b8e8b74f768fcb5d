namespace IoTHub.Cluster.Routing;

/// <summary>How cross-node routing batches and paces its calls (docs/clustering.md); the defaults serve, tests shorten them.</summary>
internal sealed class RoutingSettings
{
    /// <summary>At most this many messages in one call to another node.</summary>
    public int ForwardBatchSize { get; init; } = 256;

    /// <summary>
    /// How long the sender lets messages gather after the first of a batch, unless a whole batch is waiting. None by default: what
    /// arrives during a call goes in the next, so batches grow with the load, and a message sent to an idle node leaves at once (a
    /// 1 ms window put cross-node p50 at 2.5 ms, without one it is 0.4 ms; docs/clustering.md). Tests set one to see batching.
    /// </summary>
    public TimeSpan ForwardWindow { get; init; } = TimeSpan.Zero;

    /// <summary>Messages that may wait for one other node; more are dropped (and counted), the publisher never waits.</summary>
    public int ForwardQueueLimit { get; init; } = 100_000;

    /// <summary>How long filter changes gather before they go out as one batch.</summary>
    public TimeSpan FilterWindow { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>How often a node tells the others the number of its last batch when nothing changed, so a lost batch is noticed.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the PUBACK/PUBREC of a QoS 1 or 2 message forwarded to other nodes may wait for them to accept it
    /// (Cluster:Routing:ForwardAckTimeout), counted from the message's queueing; then it is withheld and the publisher's connection
    /// closed, as when the node's call fails (docs/clustering.md#acknowledged-forwarding).
    /// </summary>
    public TimeSpan ForwardAckTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a dead node's filters are kept, refusing, when no node says it adopted its sessions (docs/clustering.md#a-dead-nodes-routes):
    /// longer than an adoption's five attempts take, so that only an adoption that never ends meets it.
    /// </summary>
    public TimeSpan AdoptionWaitLimit { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long the route keys of a session that moved to another node refuse here when that node's filters never show them
    /// (docs/clustering.md#a-moving-sessions-routes): far longer than a filter batch takes to come, so that only a node that never
    /// restored the session meets it.
    /// </summary>
    public TimeSpan MoveWaitLimit { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a call to another node may take.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
