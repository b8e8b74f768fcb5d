using System.Collections.Concurrent;
using IoTHub.Broker.Ownership;
using IoTHub.Cluster.Routing;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace IoTHub.Cluster.Sessions;

/// <summary>
/// One owner per client id across the cluster (docs/clustering.md#ownership-and-takeover), this node's side: its broker's CONNECTs
/// claim their client ids at their <see cref="IClientGrain"/>, and the arbiters ask it through its <see cref="INodeSessionsGrain"/>
/// to give sessions up. It keeps the claims its sessions hold, so that a session attaches only while no other node took its client id.
/// </summary>
internal sealed partial class ClusterSessions(ILocalSessions broker, ClusterRouting routing, ILocalSiloDetails local, IGrainFactory grains,
    SessionSettings settings, ILogger<ClusterSessions> logger) : ISessionOwners, ILifecycleParticipant<ISiloLifecycle>
{
    // Client id -> the claim this node holds (positive), or the claims up to which it gave the client id up (negative): a give-up that
    // overtakes the answer to this node's own claim must still win over it.
    private readonly ConcurrentDictionary<string, long> _claims = new(StringComparer.Ordinal);

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(ClusterSessions), ServiceLifecycleStage.Active, _ =>
        {
            broker.Attach(this);
            return Task.CompletedTask;
        });
    }

    public async Task<SessionClaim> ClaimAsync(string clientId, bool cleanStart, CancellationToken cancellationToken)
    {
        var answer = await AskAsync(grains.GetGrain<IClientGrain>(clientId).ClaimAsync(local.SiloAddress, cleanStart), cancellationToken).ConfigureAwait(false);
        if (answer.Refusal is { } refusal)
        {
            throw new SessionClaimException(refusal);
        }

        var number = Hold(clientId, answer.Number);
        var previous = answer.Previous is null ? PreviousOwner.None
            : answer.Previous.Equals(local.SiloAddress) ? PreviousOwner.ThisNode
            : PreviousOwner.OtherNode;
        if (previous == PreviousOwner.OtherNode)
        {
            Log.TakenFromNode(logger, clientId, answer.Previous!.ToParsableString());
        }

        return new SessionClaim(number, previous);
    }

    public async Task<long> ClaimOrphanAsync(string clientId, CancellationToken cancellationToken)
    {
        var answer = await AskAsync(grains.GetGrain<IClientGrain>(clientId).ClaimOrphanAsync(local.SiloAddress), cancellationToken).ConfigureAwait(false);
        return answer.Number == 0 ? 0 : Hold(clientId, answer.Number);
    }

    /// <summary>An arbiter's answer within the claim timeout.</summary>
    private async Task<ClientClaim> AskAsync(Task<ClientClaim> claim, CancellationToken cancellationToken)
    {
        try
        {
            return await claim.WaitAsync(settings.ClaimTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException)
        {
            // Said in the broker's line for the refused CONNECT, rate-limited: the clients of a frozen node all come at once.
            throw new SessionClaimException($"no answer from its arbiter: {e.Message}", e);
        }
    }

    /// <summary>
    /// Keeps a granted claim, unless a give-up that overtook its answer revoked it already, or a later claim of this node is held: the
    /// answers to two claims of one node (a CONNECT's and an adoption's) may come in either order, and the arbiter numbers its grants.
    /// </summary>
    internal long Hold(string clientId, long number)
    {
        _claims.AddOrUpdate(clientId, static (_, claimed) => claimed,
            static (_, held, claimed) => held < 0 ? (-held >= claimed ? held : claimed) : Math.Max(held, claimed), number);
        return number;
    }

    public bool Holds(string clientId, long claim) => _claims.TryGetValue(clientId, out var held) && held == claim;

    public void Released(string clientId, long claim)
    {
        if (_claims.TryRemove(new KeyValuePair<string, long>(clientId, claim)))
        {
            // Called under the session registry's lock: the call to the arbiter goes from the thread pool.
            _ = Task.Run(() => ReleaseAsync(clientId, claim));
        }
    }

    /// <summary>
    /// Gives the session of <paramref name="clientId"/> up to <paramref name="claimant"/> (its silo address), the node that claimed it, and
    /// this node's claims up to <paramref name="upTo"/>. A session that goes on there leaves its route keys refusing here until that
    /// node's filters have them (docs/clustering.md#a-moving-sessions-routes).
    /// </summary>
    public Task GiveUpAsync(string clientId, bool continues, long upTo, string claimant)
    {
        _claims.AddOrUpdate(clientId, static (_, revoked) => -revoked, static (_, held, revoked) => Math.Abs(held) <= revoked ? -revoked : held, upTo);
        if (continues && claimant != routing.Self && broker.MovingRouteKeys(clientId) is { Length: > 0 } keys)
        {
            routing.Moving(clientId, keys, claimant);
        }

        return broker.GiveUpAsync(clientId, continues);
    }

    /// <summary>Tells the arbiter the client id is free; a failure only keeps its grain active (the next claim asks this node, which has nothing to give up).</summary>
    private async Task ReleaseAsync(string clientId, long claim)
    {
        try
        {
            await grains.GetGrain<IClientGrain>(clientId).ReleaseAsync(local.SiloAddress, claim).WaitAsync(settings.ClaimTimeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException)
        {
            Log.ReleaseFailed(logger, clientId, e.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1540, LogLevel.Information, "Cluster sessions: client id {ClientId} taken over from node {Node}")]
        public static partial void TakenFromNode(ILogger logger, string clientId, string node);

        [LoggerMessage(1541, LogLevel.Debug, "Cluster sessions: the end of client id {ClientId}'s session not told to its arbiter: {Reason}")]
        public static partial void ReleaseFailed(ILogger logger, string clientId, string reason);
    }
}
