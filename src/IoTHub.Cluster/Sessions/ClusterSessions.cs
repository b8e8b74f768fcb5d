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

    // The client ids this node's adoption of a dead node found claimed by a live node (a client that took its session from the store
    // meanwhile), by that node: the adopter says it adopted only once they settled there (SettleTakenElsewhereAsync).
    private readonly ConcurrentDictionary<SiloAddress, ConcurrentQueue<string>> _takenElsewhere = new();

    // Client ids an adopter waits for here: completed when their session is here (its subscriptions in the tree), or their claim ended.
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _settling = new(StringComparer.Ordinal);

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
        if (answer.Number != 0)
        {
            return Hold(clientId, answer.Number);
        }

        if (answer.Previous is { } owner)
        {
            _takenElsewhere.GetOrAdd(owner, static _ => new ConcurrentQueue<string>()).Enqueue(clientId);
        }

        return 0;
    }

    /// <summary>
    /// After an adoption: waits until the sessions it found claimed by live nodes (their clients took them from the store meanwhile)
    /// are there and those nodes' filters as of then reached every node, so that the dead node's routes are not forgotten before
    /// theirs are known (docs/clustering.md#a-dead-nodes-routes). Bounded; a node that does not answer is logged and not waited for.
    /// </summary>
    public async Task SettleTakenElsewhereAsync()
    {
        var settles = new List<Task>();
        foreach (var owner in _takenElsewhere.Keys)
        {
            if (_takenElsewhere.TryRemove(owner, out var taken))
            {
                settles.Add(SettleAtAsync(owner, [.. taken.Distinct(StringComparer.Ordinal)]));
            }
        }

        await Task.WhenAll(settles).ConfigureAwait(false);
    }

    private async Task SettleAtAsync(SiloAddress owner, string[] clientIds)
    {
        try
        {
            var settled = owner.Equals(local.SiloAddress) ? SettleAsync(clientIds) : grains.GetGrain<INodeSessionsGrain>(owner.ToParsableString()).SettleAsync(clientIds);
            await settled.WaitAsync(settings.ClaimTimeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever failed, the adoption goes on: at worst the dead node's routes go a batch early (docs/clustering.md#a-dead-nodes-routes).
            Log.NotSettled(logger, clientIds.Length, owner.ToParsableString(), e.Message);
        }
    }

    /// <summary>
    /// Waits until the sessions of <paramref name="clientIds"/>, claimed by this node while another adopted a dead node's sessions,
    /// are here (or their claims ended), at most <see cref="SessionSettings.SettleTimeout"/>, then until this node's filters as of
    /// then reached every other node.
    /// </summary>
    public async Task SettleAsync(string[] clientIds)
    {
        ArgumentNullException.ThrowIfNull(clientIds);
        var waits = new Task[clientIds.Length];
        for (var i = 0; i < clientIds.Length; i++)
        {
            var waiter = _settling.GetOrAdd(clientIds[i], static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            if (broker.HasSession(clientIds[i]))
            {
                Settled(clientIds[i]);
            }

            waits[i] = waiter.Task;
        }

        await Task.WhenAll(waits).WaitAsync(settings.SettleTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (var clientId in clientIds)
        {
            // Those that did not settle in time are waited for no more.
            _settling.TryRemove(clientId, out _);
        }

        await routing.FlushFiltersAsync().ConfigureAwait(false);
    }

    /// <summary>True while an adopter waits here for the session of <paramref name="clientId"/> (<see cref="SettleAsync"/>).</summary>
    internal bool IsSettling(string clientId) => _settling.ContainsKey(clientId);

    private void Settled(string clientId)
    {
        if (!_settling.IsEmpty && _settling.TryRemove(clientId, out var waiter))
        {
            waiter.TrySetResult();
        }
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

    public bool Holds(string clientId, long claim)
    {
        if (!_claims.TryGetValue(clientId, out var held) || held != claim)
        {
            return false;
        }

        // Asked as the session is taken in or attached here, its subscriptions already in the tree.
        Settled(clientId);
        return true;
    }

    public void Released(string clientId, long claim)
    {
        Settled(clientId);
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
        Settled(clientId);
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

        [LoggerMessage(1542, LogLevel.Warning, "Cluster sessions: node {Node} did not say in time that the {Count} sessions of a dead node its " +
            "clients took meanwhile are there; the dead node's routes are forgotten without waiting for its filters: {Reason}")]
        public static partial void NotSettled(ILogger logger, int count, string node, string reason);
    }
}
