using IoTHub.Cluster.Nodes;
using Orleans;
using Orleans.GrainDirectory;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace IoTHub.Cluster.Sessions;

/// <summary>
/// The arbiter of one client id (its key) across the cluster: which node owns the session now. One activation at a time, kept by
/// Orleans' strongly consistent grain directory; it lives on the owner's node (placed where it is first claimed, then moved to each new
/// owner), so that it goes with that node and no node that is left holds an owner that moved on.
/// </summary>
internal interface IClientGrain : IGrainWithStringKey
{
    /// <summary>
    /// Makes <paramref name="claimant"/> the owner. A live node that owned the client id gives its session up first
    /// (<paramref name="cleanStart"/>: the claimant does not resume it); when it does not answer in time the claim is refused.
    /// </summary>
    Task<ClientClaim> ClaimAsync(SiloAddress claimant, bool cleanStart);

    /// <summary>
    /// Makes <paramref name="claimant"/> the owner to adopt the session a dead node left, only when no live node (the claimant included) owns
    /// the client id: a live owner is never asked to give up for an adoption. Number 0 when one does.
    /// </summary>
    Task<ClientClaim> ClaimOrphanAsync(SiloAddress claimant);

    /// <summary>The session of <paramref name="owner"/>'s claim <paramref name="claim"/> ended: the client id is free, unless claimed again since.</summary>
    Task ReleaseAsync(SiloAddress owner, long claim);
}

/// <summary>The answer to a claim.</summary>
/// <param name="Number">The claim's number, larger than every earlier one of the client id; 0 when refused.</param>
/// <param name="Previous">The live node that owned the client id before (the claimant itself, or one that gave it up); null when none did.</param>
/// <param name="Refusal">Why the claim was refused; null when it was not.</param>
[GenerateSerializer, Immutable]
internal sealed record ClientClaim([property: Id(0)] long Number, [property: Id(1)] SiloAddress? Previous, [property: Id(2)] string? Refusal);

/// <summary>
/// Not reentrant: the claims of one client id are answered one at a time, each after the previous owner gave up. Kept active while a
/// node owns the client id, so that idle collection never forgets an owner; it goes when the session ends, or with its node. Claimed
/// by another node, it moves there (Orleans' grain migration, with its state) once the claim is answered.
/// </summary>
[PreferLocalPlacement, GrainDirectory(DirectoryName)]
internal sealed class ClientGrain(IClusterMembershipService membership, IGrainFactory grains, ILocalSiloDetails local, SessionSettings settings)
    : Grain, IClientGrain, IGrainMigrationParticipant
{
    /// <summary>The grain directory of client ids: Orleans' strongly consistent one, so that two activations never answer for one client id.</summary>
    public const string DirectoryName = "client-ids";

    private SiloAddress? _owner;
    private long _ownerClaim;

    // Claim numbers grow across activations too (a later activation starts from a later clock): a node compares them with a give-up's.
    private long _lastClaim = DateTime.UtcNow.Ticks;

    public async Task<ClientClaim> ClaimAsync(SiloAddress claimant, bool cleanStart)
    {
        ArgumentNullException.ThrowIfNull(claimant);
        var previous = _owner;
        if (previous is not null && !previous.Equals(claimant))
        {
            if (!IsLive(previous))
            {
                // A node declared dead owns nothing: its sessions are in the store as it last committed them.
                previous = null;
            }
            else
            {
                try
                {
                    await grains.GetGrain<INodeSessionsGrain>(previous.ToParsableString()).GiveUpAsync(this.GetPrimaryKeyString(), !cleanStart, _ownerClaim,
                            claimant.ToParsableString())
                        .WaitAsync(settings.GiveUpTimeout).ConfigureAwait(true);
                }
                catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException)
                {
                    return new ClientClaim(0, previous, $"its owner, node {previous.ToParsableString()}, did not give it up: {e.Message}");
                }
            }
        }

        return Grant(claimant, previous);
    }

    public Task<ClientClaim> ClaimOrphanAsync(SiloAddress claimant)
    {
        ArgumentNullException.ThrowIfNull(claimant);
        if (_owner is { } owner && IsLive(owner))
        {
            // Connected (or adopted) on a live node since the death: the session is there.
            return Task.FromResult(new ClientClaim(0, owner, Refusal: null));
        }

        return Task.FromResult(Grant(claimant, previous: null));
    }

    /// <summary>Makes <paramref name="claimant"/> the owner with the next claim number; the activation follows it.</summary>
    private ClientClaim Grant(SiloAddress claimant, SiloAddress? previous)
    {
        _owner = claimant;
        _ownerClaim = ++_lastClaim;
        DelayDeactivation(Timeout.InfiniteTimeSpan);
        if (!claimant.Equals(local.SiloAddress))
        {
            // PreferLocalPlacement takes the hint: the activation follows its owner once this call is answered.
            RequestContext.Set(IPlacementDirector.PlacementHintKey, claimant);
            MigrateOnIdle();
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }

        return new ClientClaim(_ownerClaim, previous, Refusal: null);
    }

    public Task ReleaseAsync(SiloAddress owner, long claim)
    {
        if (claim == _ownerClaim && owner.Equals(_owner))
        {
            _owner = null;
            DeactivateOnIdle();
        }

        return Task.CompletedTask;
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (_owner is not null)
        {
            // Moved here with its owner: still kept while owned.
            DelayDeactivation(Timeout.InfiniteTimeSpan);
        }

        return Task.CompletedTask;
    }

    public void OnDehydrate(IDehydrationContext dehydrationContext)
    {
        ArgumentNullException.ThrowIfNull(dehydrationContext);
        dehydrationContext.TryAddValue(nameof(_owner), _owner);
        dehydrationContext.TryAddValue(nameof(_ownerClaim), _ownerClaim);
        dehydrationContext.TryAddValue(nameof(_lastClaim), _lastClaim);
    }

    public void OnRehydrate(IRehydrationContext rehydrationContext)
    {
        ArgumentNullException.ThrowIfNull(rehydrationContext);
        rehydrationContext.TryGetValue(nameof(_owner), out _owner);
        rehydrationContext.TryGetValue(nameof(_ownerClaim), out _ownerClaim);
        rehydrationContext.TryGetValue(nameof(_lastClaim), out _lastClaim);
    }

    private bool IsLive(SiloAddress node) => membership.CurrentSnapshot.GetSiloStatus(node) is not (SiloStatus.Dead or SiloStatus.None);
}

/// <summary>One per node, keyed by its silo address and activated on that node: where the arbiters ask it to give sessions up.</summary>
internal interface INodeSessionsGrain : IGrainWithStringKey
{
    /// <summary>
    /// Gives the session of <paramref name="clientId"/> up to <paramref name="claimant"/> (the silo address of the node that claimed it),
    /// and every claim of it by this node up to <paramref name="upTo"/>.
    /// </summary>
    Task GiveUpAsync(string clientId, bool continues, long upTo, string claimant);

    /// <summary>
    /// Returns once the sessions of <paramref name="clientIds"/>, which this node's clients took from the store while another node
    /// adopted a dead node's sessions, are here and this node's filters as of then reached every other node (bounded).
    /// </summary>
    Task SettleAsync(string[] clientIds);
}

/// <summary>Reentrant: give-ups of different client ids wait for their commits side by side. The state is <see cref="ClusterSessions"/>'s.</summary>
[OnNodePlacement, Orleans.Concurrency.Reentrant]
internal sealed class NodeSessionsGrain(ClusterSessions sessions) : Grain, INodeSessionsGrain
{
    public Task GiveUpAsync(string clientId, bool continues, long upTo, string claimant) => sessions.GiveUpAsync(clientId, continues, upTo, claimant);

    public Task SettleAsync(string[] clientIds) => sessions.SettleAsync(clientIds);
}
