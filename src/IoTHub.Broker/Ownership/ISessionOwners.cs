namespace IoTHub.Broker.Ownership;

/// <summary>
/// The seam of one owner per client id across a cluster (docs/clustering.md#ownership-and-takeover): implemented by IoTHub.Cluster,
/// attached to a broker with <see cref="MqttBroker.AttachSessionOwners"/>. Without clustering none is attached and a CONNECT pays
/// a null check where it would claim and one where it attaches.
/// </summary>
public interface ISessionOwners
{
    /// <summary>
    /// Claims <paramref name="clientId"/> for this node before its CONNECT is accepted. A live node that owns it gives its session up
    /// first (<see cref="MqttBroker.GiveUpSessionAsync"/>: its connection closed with DISCONNECT 0x8E, its state committed to the
    /// store); <paramref name="cleanStart"/> tells it whether the session continues here. Throws <see cref="SessionClaimException"/>
    /// when the owner cannot be asked in time: then two nodes could serve the client id, and the CONNECT is refused.
    /// </summary>
    Task<SessionClaim> ClaimAsync(string clientId, bool cleanStart, CancellationToken cancellationToken);

    /// <summary>
    /// Claims <paramref name="clientId"/> for this node to adopt the session a dead node left, only when no live node owns it: a client that
    /// connected elsewhere meanwhile keeps its session. Returns the claim's number, 0 when a live node owns the client id. Throws
    /// <see cref="SessionClaimException"/> when the arbiter cannot be asked in time.
    /// </summary>
    Task<long> ClaimOrphanAsync(string clientId, CancellationToken cancellationToken);

    /// <summary>
    /// Whether claim <paramref name="claim"/> of <paramref name="clientId"/> still holds: no other node took the client id since.
    /// Called under the session registry's lock as a connection attaches; never blocks.
    /// </summary>
    bool Holds(string clientId, long claim);

    /// <summary>
    /// The session of <paramref name="clientId"/> attached under <paramref name="claim"/> ended on this node (it did not move to
    /// another): the client id is free. Called under the session registry's lock; never blocks.
    /// </summary>
    void Released(string clientId, long claim);
}

/// <summary>Where the session of a claimed client id was until the claim.</summary>
public enum PreviousOwner
{
    /// <summary>No live node owned it: the store has the latest session (a copy this node loaded at start may be stale).</summary>
    None,

    /// <summary>This node: its own session is the one (when it has none, the store may have one: a claim answered after its CONNECT gave up).</summary>
    ThisNode,

    /// <summary>Another node, which gave it up: the store has it, whatever this node kept of it is stale.</summary>
    OtherNode,
}

/// <summary>A claim of a client id by this node: its number (what <see cref="ISessionOwners.Holds"/> checks) and where the session was.</summary>
public readonly record struct SessionClaim(long Number, PreviousOwner Previous);

/// <summary>The owner of a client id could not be asked to give it up (frozen, partitioned, overloaded, not yet declared dead).</summary>
public sealed class SessionClaimException(string message, Exception? inner = null) : Exception(message, inner);
