namespace IoTHub.Cluster.Sessions;

/// <summary>How long the calls of a takeover across nodes may take (docs/clustering.md#ownership-and-takeover); tests shorten them.</summary>
internal sealed class SessionSettings
{
    /// <summary>
    /// How long the owner of a client id may take to give its session up (close the connection, commit its state). A node that does not
    /// answer in time (frozen, partitioned, not yet declared dead) keeps the client id, and the CONNECT elsewhere is refused.
    /// </summary>
    public TimeSpan GiveUpTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a claim may take in all: the give-up, and waiting behind other claims of the same client id. Below Mqtt:AuthenticationTimeout (5 s).</summary>
    public TimeSpan ClaimTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// How long a node waits for the sessions its clients took from the store while another node adopted a dead node's sessions
    /// (docs/clustering.md#a-dead-nodes-routes): a session is taken in milliseconds after its claim; one that is not there by then (its
    /// CONNECT gave up) is not waited for, so that the dead node's routes do not refuse its publishers for longer.
    /// </summary>
    public TimeSpan SettleTimeout { get; init; } = TimeSpan.FromSeconds(1);
}
