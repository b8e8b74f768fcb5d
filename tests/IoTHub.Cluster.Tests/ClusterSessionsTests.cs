using IoTHub.Broker.Ownership;
using IoTHub.Cluster.Sessions;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace IoTHub.Cluster.Tests;

/// <summary>
/// The arbiter of client ids (<see cref="ClientGrain"/>) on silos of Orleans' InProcessTestCluster over our PostgreSQL membership: a
/// claim makes the node the one owner, a claim from another node makes the owner give the session up first, an owner that does not
/// answer keeps its client id, and a released client id or one of a node gone is claimed without asking it.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class ClusterSessionsTests(PostgresServer server) : IAsyncLifetime
{
    private static readonly TimeSpan GiveUpTimeout = TimeSpan.FromMilliseconds(500);

    private InProcessTestCluster? _cluster;

    private InProcessTestCluster Cluster => _cluster!;

    public async Task InitializeAsync() =>
        (_cluster, _) = await TestClusters.DeployAsync(server, 2, silo => silo.Services.AddSingleton(new SessionSettings
        {
            GiveUpTimeout = GiveUpTimeout,
            ClaimTimeout = TimeSpan.FromSeconds(5),
        }));

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    private ISessionOwners Owners(int silo) => Sessions(silo).Owners!;

    private RecordingSessions Sessions(int silo) => (RecordingSessions)Cluster.Silos[silo].ServiceProvider.GetRequiredService<ILocalSessions>();

    [Fact]
    public async Task AClaimMakesTheNodeTheOwnerAndAClaimAgainOnItReplacesTheFirst()
    {
        var first = await Owners(0).ClaimAsync("solo", cleanStart: false, CancellationToken.None);
        Assert.Equal(PreviousOwner.None, first.Previous);
        Assert.True(Owners(0).Holds("solo", first.Number));

        // A second connection on the same node: the node's own session continues, the first claim no longer attaches.
        var again = await Owners(0).ClaimAsync("solo", cleanStart: false, CancellationToken.None);
        Assert.Equal(PreviousOwner.ThisNode, again.Previous);
        Assert.True(again.Number > first.Number);
        Assert.False(Owners(0).Holds("solo", first.Number));
        Assert.True(Owners(0).Holds("solo", again.Number));
        Assert.Empty(Sessions(0).GivenUp);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AClaimFromAnotherNodeMakesTheOwnerGiveTheSessionUpFirst(bool cleanStart)
    {
        var onFirst = await Owners(0).ClaimAsync("mover", cleanStart: false, CancellationToken.None);

        var onSecond = await Owners(1).ClaimAsync("mover", cleanStart, CancellationToken.None);

        // The owner was asked before the claim was answered, told whether the session continues (no clean start).
        Assert.Equal([("mover", !cleanStart)], Sessions(0).GivenUp);
        Assert.Equal(PreviousOwner.OtherNode, onSecond.Previous);
        Assert.False(Owners(0).Holds("mover", onFirst.Number));
        Assert.True(Owners(1).Holds("mover", onSecond.Number));
        Assert.Empty(Sessions(1).GivenUp);
    }

    [Fact]
    public async Task AnOwnerThatDoesNotAnswerKeepsTheClientIdAndTheClaimIsRefused()
    {
        var onFirst = await Owners(0).ClaimAsync("stuck", cleanStart: false, CancellationToken.None);
        Sessions(0).Frozen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var refused = await Assert.ThrowsAsync<SessionClaimException>(() => Owners(1).ClaimAsync("stuck", cleanStart: false, CancellationToken.None));
        Assert.Contains("did not give it up", refused.Message, StringComparison.Ordinal);
        Assert.False(Owners(1).Holds("stuck", 0));

        // The arbiter still counts the first node the owner: once it answers again, the next claim asks it again, and gets the client id.
        Sessions(0).Frozen!.SetResult();
        Sessions(0).Frozen = null;
        var onSecond = await Owners(1).ClaimAsync("stuck", cleanStart: false, CancellationToken.None);
        Assert.Equal(PreviousOwner.OtherNode, onSecond.Previous);
        Assert.True(onSecond.Number > onFirst.Number);
        await Poll.UntilAsync(() => Sessions(0).GivenUp.Count == 2, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AReleasedClientIdIsClaimedWithoutAskingItsLastOwner()
    {
        var onFirst = await Owners(0).ClaimAsync("ended", cleanStart: false, CancellationToken.None);
        Assert.Equal(PreviousOwner.None, onFirst.Previous);
        Owners(0).Released("ended", onFirst.Number);
        Assert.False(Owners(0).Holds("ended", onFirst.Number));

        // The release is told to the arbiter behind the caller's back. Watched with the other node's orphan claims, which change
        // nothing while the first node still owns the client id (a CONNECT's claim that came first would take it over from there):
        // once the release arrived, the claim is granted without asking the last owner.
        long granted = 0;
        await Poll.UntilAsync(async () => (granted = await Owners(1).ClaimOrphanAsync("ended", CancellationToken.None)) > 0, TimeSpan.FromSeconds(10));
        Assert.True(granted > onFirst.Number);
        Assert.Empty(Sessions(0).GivenUp);
        Assert.Equal(PreviousOwner.ThisNode, (await Owners(1).ClaimAsync("ended", cleanStart: false, CancellationToken.None)).Previous);
    }

    [Fact]
    public async Task AGiveUpRevokesTheNodesClaimsUpToItsNumberAndNoLaterOne()
    {
        var claim = await Owners(0).ClaimAsync("raced", cleanStart: false, CancellationToken.None);

        // The give-up names the last claim it takes away: that one and every earlier one stop holding, even one whose answer comes
        // after the give-up (the answer then finds the revocation and leaves it).
        var sessions = Cluster.Silos[0].ServiceProvider.GetRequiredService<ClusterSessions>();
        await sessions.GiveUpAsync("raced", continues: true, upTo: claim.Number, claimant: Cluster.Silos[1].SiloAddress.ToParsableString());
        Assert.False(Owners(0).Holds("raced", claim.Number));

        var later = await Owners(0).ClaimAsync("raced", cleanStart: false, CancellationToken.None);
        Assert.True(Owners(0).Holds("raced", later.Number));
    }

    [Fact]
    public async Task AnEarlierClaimAnsweredLateLeavesTheLaterClaimOfTheNodeHeld()
    {
        // A CONNECT and an adoption of one client id on one node: the arbiter grants both in turn, and the answer to the first may be
        // handled after the second's. Seen end to end: the adoption's late answer replaced the CONNECT's claim, which was then refused.
        var first = await Owners(0).ClaimAsync("twice", cleanStart: false, CancellationToken.None);
        var second = await Owners(0).ClaimAsync("twice", cleanStart: false, CancellationToken.None);
        Assert.True(second.Number > first.Number);
        Cluster.Silos[0].ServiceProvider.GetRequiredService<ClusterSessions>().Hold("twice", first.Number);
        Assert.True(Owners(0).Holds("twice", second.Number));
        Assert.False(Owners(0).Holds("twice", first.Number));
    }

    [Fact]
    public async Task TheArbiterMovesToTheNewOwnerAndOutlivesTheNodeItWasFirstOn()
    {
        // First claimed on the second node (the arbiter is placed there), then taken over by the first.
        var first = Sessions(0);
        await Owners(1).ClaimAsync("traveller", cleanStart: false, CancellationToken.None);
        var taken = await first.Owners!.ClaimAsync("traveller", cleanStart: false, CancellationToken.None);
        Assert.Equal(PreviousOwner.OtherNode, taken.Previous);
        var owner = Cluster.Silos[0].SiloAddress;
        await Poll.UntilAsync(async () => await ArbiterNodeAsync("traveller") == owner, TimeSpan.FromSeconds(20));

        // The node it was first on leaves: the arbiter, with the owner, is still there; the owner claims again as itself.
        await Cluster.StopSiloAsync(Cluster.Silos[1]);
        var again = await first.Owners.ClaimAsync("traveller", cleanStart: false, CancellationToken.None);
        Assert.Equal(PreviousOwner.ThisNode, again.Previous);
        Assert.True(again.Number > taken.Number);
    }

    [Fact]
    public async Task TheSessionOfANodeThatLeftIsClaimedWithoutAskingIt()
    {
        // The client id moves from the second node to the first, which then leaves.
        var survivor = Sessions(1);
        await survivor.Owners!.ClaimAsync("orphan", cleanStart: false, CancellationToken.None);
        await Owners(0).ClaimAsync("orphan", cleanStart: false, CancellationToken.None);
        Assert.Single(survivor.GivenUp);

        await Cluster.StopSiloAsync(Cluster.Silos[0]);

        // A node that is not alive owns nothing: nobody is asked, and its sessions are read from the store as it last committed them.
        var claim = await survivor.Owners.ClaimAsync("orphan", cleanStart: false, CancellationToken.None);
        Assert.Equal(PreviousOwner.None, claim.Previous);
        Assert.Single(survivor.GivenUp);
    }

    [Fact]
    public async Task AnAdoptionClaimsOnlyAClientIdNoLiveNodeOwnsAndNeverAsksAnOwnerToGiveUp()
    {
        // Owned by the second node: the first may not adopt it (the client connected there), nor may the owner itself claim it again so.
        var owned = await Owners(1).ClaimAsync("adoptee", cleanStart: false, CancellationToken.None);
        Assert.Equal(0, await Owners(0).ClaimOrphanAsync("adoptee", CancellationToken.None));
        Assert.Equal(0, await Owners(1).ClaimOrphanAsync("adoptee", CancellationToken.None));
        Assert.Empty(Sessions(1).GivenUp);
        Assert.True(Owners(1).Holds("adoptee", owned.Number));

        // The owner leaves: the client id is free for the adopter, which then holds it as a claim of its own, and a CONNECT elsewhere asks it.
        await Cluster.StopSiloAsync(Cluster.Silos[1]);
        var adopted = await Owners(0).ClaimOrphanAsync("adoptee", CancellationToken.None);
        Assert.True(adopted > 0);
        Assert.True(Owners(0).Holds("adoptee", adopted));
        var again = await Owners(0).ClaimAsync("adoptee", cleanStart: false, CancellationToken.None);
        Assert.Equal(PreviousOwner.ThisNode, again.Previous);
    }

    [Fact]
    public async Task ExactlyOneSurvivorTheLowestActiveNodeAdoptsADeadNodeByItsName()
    {
        var third = await Cluster.StartAdditionalSiloAsync();
        var membership = Cluster.Silos[0].ServiceProvider.GetRequiredService<IClusterMembershipService>();
        await Poll.UntilAsync(() => Task.FromResult(membership.CurrentSnapshot.GetSiloStatus(third.SiloAddress) == SiloStatus.Active), TimeSpan.FromSeconds(30));
        var name = membership.CurrentSnapshot.Members[third.SiloAddress].Name;

        await Cluster.StopSiloAsync(third);

        // Both survivors see the same view and choose the same node: the active one with the lowest silo address.
        var lowest = Cluster.Silos[0].SiloAddress.CompareTo(Cluster.Silos[1].SiloAddress) < 0 ? 0 : 1;
        await Poll.UntilAsync(() => Task.FromResult(Sessions(lowest).Adopted.Contains(name)), TimeSpan.FromSeconds(30),
            $"node {lowest} did not adopt {name}");
        Assert.Equal([name], Sessions(lowest).Adopted);
        Assert.Empty(Sessions(1 - lowest).Adopted);
    }

    /// <summary>The node the arbiter of <paramref name="clientId"/> is active on (null: none), as Orleans' management grain reports it.</summary>
    private async Task<SiloAddress?> ArbiterNodeAsync(string clientId)
    {
        var management = Cluster.Silos[0].ServiceProvider.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        var activations = await management.GetDetailedGrainStatistics();
        return activations.FirstOrDefault(a => a.GrainType.StartsWith(typeof(ClientGrain).FullName + ",", StringComparison.Ordinal)
            && a.GrainId.Key.ToString() == clientId)?.SiloAddress;
    }
}
