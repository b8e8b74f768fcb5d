using IoTHub.Broker.Connections;
using IoTHub.Broker.Ownership;
using IoTHub.Broker.Security;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Storage;
using IoTHub.Mqtt;

namespace IoTHub.Broker;

/// <summary>One owner per client id across a cluster (docs/clustering.md#ownership-and-takeover): the broker's side of the seam.</summary>
public sealed partial class MqttBroker
{
    /// <summary>How long reading a claimed session from the shared store may take (a row lock held by a frozen node can stall it).</summary>
    private static readonly TimeSpan TakeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The cluster's arbiter of client ids; null without clustering, and a CONNECT then takes today's path.</summary>
    internal ISessionOwners? SessionOwners { get; private set; }

    /// <summary>
    /// Joins this broker to the other nodes' sessions (IoTHub.Cluster): every accepted CONNECT claims its client id through
    /// <paramref name="owners"/>, and a session that was on another node is read from the store given to <see cref="AttachStorage"/>
    /// when the nodes share it (otherwise such a session starts anew). Call once, before clients connect.
    /// </summary>
    public void AttachSessionOwners(ISessionOwners owners)
    {
        ArgumentNullException.ThrowIfNull(owners);
        Registry.Owners = owners;
        SessionOwners = owners;
    }

    /// <summary>
    /// Lets the session of <paramref name="clientId"/> go to the node that claimed it (see <see cref="SessionRegistry.GiveUp"/>) and
    /// completes once everything written for it is committed, so that the node reads all of it from the store.
    /// </summary>
    public Task GiveUpSessionAsync(string clientId, bool continues)
    {
        Registry.GiveUp(clientId, continues);
        return _persistence.FlushAsync();
    }

    /// <summary>
    /// Once the authenticator accepted a CONNECT, claims its client id for this node and, when the session was elsewhere, reads it
    /// from the shared store. A claim that fails (the owner could not be asked, the store could not be read) refuses the CONNECT with
    /// Server unavailable (5.0 0x88, 3.1.1 return code 3) rather than let two nodes serve one client id.
    /// </summary>
    internal async Task<ConnectDecision> ClaimSessionAsync(Task<ConnectDecision> authentication, MqttConnection connection, string clientId, bool cleanStart)
    {
        var decision = await authentication.ConfigureAwait(false);
        if (!decision.Accepted)
        {
            return decision;
        }

        var owners = SessionOwners!;
        var claimed = 0L;
        try
        {
            var claim = await owners.ClaimAsync(clientId, cleanStart, Stopping).ConfigureAwait(false);
            claimed = claim.Number;
            // This node's own session is the one; any other case, and a claim of this node without a session here (one whose
            // answer came after its CONNECT had given up waiting, say), reads the store.
            if (claim.Previous != PreviousOwner.ThisNode || Registry.Find(clientId) is null)
            {
                await AdoptAsync(clientId, claim.Number).ConfigureAwait(false);
            }

            connection.SessionClaim = claim.Number;
            return decision;
        }
        catch (Exception e)
        {
            if (claimed != 0)
            {
                // Claimed, but the session could not be read: the client id is free again, so the next claim reads it once more.
                owners.Released(clientId, claimed);
            }

            return ConnectDecision.Refuse(ReasonCode.ServerUnavailable, "the client id could not be claimed in the cluster: " + e.Message);
        }
    }

    /// <summary>
    /// Takes the session of <paramref name="clientId"/> over from the shared store, in place of any copy this node kept: one loaded at
    /// start is the store's once its writes are committed, one another node took since is stale.
    /// </summary>
    private async Task AdoptAsync(string clientId, long claim)
    {
        if (Registry.Find(clientId) is not null)
        {
            await _persistence.FlushAsync().ConfigureAwait(false);
        }

        StoredSession? stored = null;
        if (_sharedSessions is not null)
        {
            // Cancelled in time, the read gives its place up: the next claim's read does not queue behind it.
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(Stopping);
            bounded.CancelAfter(TakeTimeout);
            stored = await _sharedSessions.TakeSessionAsync(clientId, bounded.Token).ConfigureAwait(false);
        }

        var session = stored is null ? null : RestoreSession(stored, Time.GetTimestamp(), Time.GetUtcNow());
        if (!Registry.Adopt(clientId, session, claim))
        {
            // Another node claimed it meanwhile: the CONNECT is refused as it attaches.
            session?.MoveAway(Subscriptions, continues: true);
        }
    }
}
