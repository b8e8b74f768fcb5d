using IoTHub.Broker.Connections;
using IoTHub.Broker.Ownership;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Security;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Wills;
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
        Registry.StoresConnectionWills = _sharedSessions is not null;
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
    /// The route keys of the session of <paramref name="clientId"/> that another node resumes when <see cref="GiveUpSessionAsync"/> lets it
    /// go with <c>continues</c> (one whose expiry is not 0), as the subscription tree tells the cluster's routes of them (see
    /// <see cref="SubscriptionTree.AttachFilterListener"/>); empty when there is no such session or it has no subscriptions.
    /// </summary>
    public string[] MovingRouteKeys(string clientId)
    {
        if (Registry.Find(clientId) is not { ExpiryInterval: > 0 } session)
        {
            return [];
        }

        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var subscription in session.GetSubscriptions())
        {
            keys.Add(SubscriptionTree.RouteKey(subscription));
        }

        return [.. keys];
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

        var stored = _sharedSessions is null ? null : await TakeAsync(clientId, fromNode: null).ConfigureAwait(false);
        Restore(clientId, stored, claim);
    }

    /// <summary>Reads (and takes) a session from the shared store, bounded: cancelled in time, the read gives its place up, so the next claim's read does not queue behind it.</summary>
    private async Task<StoredSession?> TakeAsync(string clientId, string? fromNode)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(Stopping);
        bounded.CancelAfter(TakeTimeout);
        return await _sharedSessions!.TakeSessionAsync(clientId, fromNode, bounded.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Makes <paramref name="stored"/> the session of <paramref name="clientId"/> here under <paramref name="claim"/>, with the will it held
    /// for its delay; false when another node claimed it meanwhile (then nothing of it stays here).
    /// </summary>
    private bool Restore(string clientId, StoredSession? stored, long claim)
    {
        var session = stored is null ? null : RestoreSession(stored, Time.GetTimestamp(), Time.GetUtcNow());
        if (!Registry.Adopt(clientId, session, claim))
        {
            // Another node claimed it meanwhile: the CONNECT is refused as it attaches.
            session?.MoveAway(Subscriptions, continues: true);
            return false;
        }

        if (stored?.Will is { } will)
        {
            // Held by a node that died: it goes on here, and a CONNECT that resumes the session cancels it [MQTT-3.1.3-9].
            var dueIn = Math.Max(0, (will.DueAt - Time.GetUtcNow()).TotalSeconds);
            Registry.HoldStoredWill(clientId, new Will(will.Message, clientId, will.DelayInterval, will.ExpiryInterval),
                Time.GetTimestamp() + (long)(dueIn * Time.TimestampFrequency));
        }

        return true;
    }

    /// <summary>
    /// Adopts what the cluster node <paramref name="node"/> (its name) left when it died (docs/clustering.md#adoption-of-a-dead-nodes-sessions):
    /// ends its database sessions (their row locks go with them), takes each of its sessions no live node claimed meanwhile from the store
    /// as an offline session of this node (its subscriptions in the tree, so messages queue for it), and publishes or holds the wills of
    /// its clients that were connected. Each session and each will goes to one node, whoever else adopts at the same time. Null, doing
    /// nothing, when the nodes share no store (each keeps its own: nothing of the dead node is in reach).
    /// </summary>
    public async Task<NodeAdoption?> AdoptNodeAsync(string node, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (_sharedSessions is not { } shared || SessionOwners is not { } owners)
        {
            return null;
        }

        string? endFailure = null;
        var ended = 0;
        try
        {
            ended = await shared.EndConnectionsAsync(node, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Without the privilege (docs/clustering.md): the adoption goes on, a session whose row the dead node locked waits for its exit.
            endFailure = e.Message;
        }

        var clientIds = await shared.ListSessionsAsync(node, cancellationToken).ConfigureAwait(false);
        var persistent = new HashSet<string>(clientIds, StringComparer.Ordinal);

        // The wills that go now first: they wait for no arbiter (those of the dead node's share of the directory are found again only
        // after its lease, seconds after the verdict). Those held for their delay go with their sessions, below.
        var wills = await shared.TakeConnectionWillsAsync(node, cancellationToken).ConfigureAwait(false);
        var held = new List<StoredWill>();
        foreach (var will in wills)
        {
            if (will.DelayInterval == 0 || !persistent.Contains(will.ClientId))
            {
                AdoptWill(will, persistent: false);
            }
            else
            {
                held.Add(will);
            }
        }

        var adopted = 0;
        var failed = 0;
        string? failure = null;
        await Parallel.ForEachAsync(clientIds, new ParallelOptions { MaxDegreeOfParallelism = AdoptionParallelism, CancellationToken = cancellationToken },
            async (clientId, _) =>
            {
                try
                {
                    if (await AdoptOrphanAsync(clientId, node, owners).ConfigureAwait(false))
                    {
                        Interlocked.Increment(ref adopted);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref failed);
                    failure = e.GetBaseException().Message;
                }
            }).ConfigureAwait(false);

        foreach (var will in held)
        {
            AdoptWill(will, persistent: true);
        }

        return new NodeAdoption(clientIds.Count, adopted, failed, failure, wills.Count, ended, endFailure);
    }

    private void AdoptWill(StoredWill will, bool persistent) =>
        Registry.AdoptWill(will.ClientId, new Will(will.Message, will.ClientId, will.DelayInterval, will.ExpiryInterval), persistent);

    /// <summary>How many sessions of a dead node are claimed and read at once.</summary>
    private const int AdoptionParallelism = 8;

    /// <summary>Claims and takes one session a dead node left, unless a live node owns it now; true when it is this node's.</summary>
    private async Task<bool> AdoptOrphanAsync(string clientId, string node, ISessionOwners owners)
    {
        var claim = await owners.ClaimOrphanAsync(clientId, Stopping).ConfigureAwait(false);
        if (claim == 0)
        {
            return false;
        }

        StoredSession? stored;
        try
        {
            // Only from the dead node: a session another node took since (its client connected there) stays there.
            stored = await TakeAsync(clientId, node).ConfigureAwait(false);
        }
        catch
        {
            owners.Released(clientId, claim);
            throw;
        }

        if (stored is null)
        {
            owners.Released(clientId, claim);
            return false;
        }

        return Restore(clientId, stored, claim);
    }
}

/// <summary>What a node adopted of a dead node (<see cref="MqttBroker.AdoptNodeAsync"/>).</summary>
/// <param name="Sessions">The sessions the dead node owned in the store.</param>
/// <param name="Adopted">Of those, the ones this node took (the others went to clients that connected elsewhere meanwhile, or failed).</param>
/// <param name="Failed">The sessions that could not be claimed or read; they wait in the store until their client connects.</param>
/// <param name="Failure">Why the last of those failed.</param>
/// <param name="Wills">The wills of the dead node's connected clients that this node published or holds.</param>
/// <param name="EndedConnections">The dead node's database sessions ended.</param>
/// <param name="EndFailure">Why its database sessions could not be ended (the privilege, docs/clustering.md); null when they were.</param>
public sealed record NodeAdoption(int Sessions, int Adopted, int Failed, string? Failure, int Wills, int EndedConnections, string? EndFailure);
