using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Cluster.Routing;
using IoTHub.Cluster.Sessions;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace IoTHub.Cluster.Tests;

/// <summary>
/// A dead node's routes (docs/clustering.md#a-dead-nodes-routes), on silos of Orleans' InProcessTestCluster: its filters stay, refusing
/// QoS 1 and 2 messages, until the survivor that adopts its sessions says so after its own filters, or the wait's limit.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class DeadNodeRoutesTests(PostgresServer server) : IAsyncLifetime
{
    private static readonly TimeSpan Converged = TimeSpan.FromSeconds(30);

    private InProcessTestCluster? _cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    private async Task<InProcessTestCluster> DeployAsync(int silos, TimeSpan adoptionWaitLimit, TimeSpan? forwardAckTimeout = null)
    {
        (_cluster, _) = await TestClusters.DeployAsync(server, silos, silo => silo.Services.AddSingleton(new RoutingSettings
        {
            // Filter batches leave well after a change, so that a node that did not wait for another's filters is caught forgetting first.
            FilterWindow = TimeSpan.FromMilliseconds(300),
            HeartbeatInterval = TimeSpan.FromMilliseconds(200),
            AdoptionWaitLimit = adoptionWaitLimit,
            ForwardAckTimeout = forwardAckTimeout ?? TimeSpan.FromMinutes(1),
        }));
        return _cluster;
    }

    private static ClusterRouting Routing(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<ClusterRouting>();

    private static RecordingBroker Broker(InProcessSiloHandle silo) => (RecordingBroker)silo.ServiceProvider.GetRequiredService<ILocalBroker>();

    private static RecordingSessions Sessions(InProcessSiloHandle silo) => (RecordingSessions)silo.ServiceProvider.GetRequiredService<ILocalSessions>();

    private static List<string> Match(InProcessSiloHandle silo, string topic)
    {
        var nodes = new List<NodeRoutes>();
        Routing(silo).Replica.Match(topic, nodes, []);
        return [.. nodes.Select(n => n.Id)];
    }

    /// <summary>
    /// Routes a QoS 1 message from <paramref name="silo"/>: what its publisher's acknowledgement waits for when it matched only refusing
    /// routes (a dead node's, not adopted: held, then refused); null when it was queued for a node or matched nothing.
    /// </summary>
    private static Task? Refusal(InProcessSiloHandle silo, string topic) =>
        Broker(silo).Routes!.Forward(MqttMessage.Create(topic, "x"u8, QualityOfService.AtLeastOnce, retain: false), default, out var accepted) == 0
            ? accepted
            : null;

    private static async Task RefusedAsNotAdoptedAsync(Task held)
    {
        var refused = await Assert.ThrowsAsync<ForwardNotAcceptedException>(() => held.WaitAsync(Converged));
        Assert.Contains("not adopted yet", refused.Message, StringComparison.Ordinal);
    }

    private static async Task UntilEveryoneKnowsAsync(InProcessSiloHandle[] observers, InProcessSiloHandle node, string filter) =>
        await Poll.UntilAsync(() => observers.All(o => Routing(o).Replica.Of(Routing(node).Self).Filters.Contains(filter)), Converged);

    [Fact]
    public async Task ADeadNodesFiltersRefuseUntilTheAdopterSaysSoAfterItsOwnFiltersThenArePurgedEverywhere()
    {
        var cluster = await DeployAsync(2, adoptionWaitLimit: TimeSpan.FromMinutes(5));
        var victim = await cluster.StartAdditionalSiloAsync();
        var survivors = cluster.Silos.Where(s => s != victim).OrderBy(s => s.SiloAddress).ToArray();
        var (adopter, observer) = (survivors[0], survivors[1]); // the active node with the lowest silo address adopts
        Broker(victim).Routes!.LocalFilterChanged("sensors/#", true);
        await UntilEveryoneKnowsAsync(survivors, victim, "sensors/#");

        // The adoption waits for the test; then the adopted session's subscription is the adopter's.
        var adopt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var survivor in survivors)
        {
            var routes = Broker(survivor).Routes!;
            Sessions(survivor).Adopting = async () =>
            {
                await adopt.Task;
                routes.LocalFilterChanged("sensors/#", true);
            };
        }

        var dead = Routing(victim).Self;
        await cluster.StopSiloAsync(victim);

        // Declared dead, not adopted: a QoS 1 message for its sessions is held on both survivors (refused once adopted, and its publisher
        // sends it again), QoS 0 goes nowhere.
        await Poll.UntilAsync(() => Task.FromResult(Refusal(observer, "sensors/1") is { IsCompleted: false } && Refusal(adopter, "sensors/1") is { IsCompleted: false }),
            Converged, "the dead node's routes were not kept, holding");
        var held = Refusal(observer, "sensors/1")!;
        Assert.Equal(0, Broker(observer).Routes!.Forward(MqttMessage.Create("sensors/1", "x"u8, QualityOfService.AtMostOnce, retain: false), default, out var qos0));
        Assert.Null(qos0);
        Assert.Equal([dead], Match(observer, "sensors/1"));
        await Poll.UntilAsync(() => Task.FromResult(!Sessions(adopter).Adopted.IsEmpty), Converged, "the adopter was not asked to adopt");
        Assert.Empty(Sessions(observer).Adopted);

        adopt.SetResult();

        // The observer forgets the dead node only with the batch that carries the adopter's new filter: at no time does a message for
        // the sessions match nothing. Once the dead node is gone from its replica, the adopter is there.
        await Poll.UntilAsync(() => Task.FromResult(!Match(observer, "sensors/1").Contains(dead)), Converged, "the observer kept the dead node's routes");
        Assert.Equal([Routing(adopter).Self], Match(observer, "sensors/1"));
        await RefusedAsNotAdoptedAsync(held);
        Assert.Null(Refusal(observer, "sensors/1"));

        // The adopter forgot them when its adoption ended: the sessions are its own now.
        Assert.Empty(Match(adopter, "sensors/1"));
        Assert.Null(Refusal(adopter, "sensors/1"));
        Assert.Contains(dead, Routing(adopter).LocalSnapshot().Adopted);
    }

    // A client that took its session from the store on another live node while the adoption ran: the adopter skips it, and says it
    // adopted only once that node has the session and its filters reached every node; the dead node's routes never go first.
    [Fact]
    public async Task TheAdopterWaitsForASessionAClientTookElsewhereMeanwhileBeforeTheDeadNodesRoutesGo()
    {
        var cluster = await DeployAsync(2, adoptionWaitLimit: TimeSpan.FromMinutes(5));
        var victim = await cluster.StartAdditionalSiloAsync();
        var survivors = cluster.Silos.Where(s => s != victim).OrderBy(s => s.SiloAddress).ToArray();
        var (adopter, owner) = (survivors[0], survivors[1]);
        Broker(victim).Routes!.LocalFilterChanged("sensors/#", true);
        await UntilEveryoneKnowsAsync(survivors, victim, "sensors/#");

        // The client's CONNECT on the other survivor claimed it first; the adoption finds it owned by a live node.
        var claim = await Sessions(owner).Owners!.ClaimAsync("taken", cleanStart: false, CancellationToken.None);
        var skipped = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Sessions(adopter).Adopting = async () => skipped.SetResult(await Sessions(adopter).Owners!.ClaimOrphanAsync("taken", CancellationToken.None));
        var dead = Routing(victim).Self;
        await cluster.StopSiloAsync(victim);
        Assert.Equal(0, await skipped.Task.WaitAsync(Converged));

        // The adopter asks the owner to settle the session, and meanwhile keeps refusing for the dead node.
        var settling = owner.ServiceProvider.GetRequiredService<ClusterSessions>();
        await Poll.UntilAsync(() => Task.FromResult(settling.IsSettling("taken")), Converged, "the adopter did not wait for the session taken elsewhere");
        Assert.True(Refusal(adopter, "sensors/1") is { IsCompleted: false });

        // The owner restores it: its subscription into the tree, then the claim checked as it is taken in.
        Broker(owner).Routes!.LocalFilterChanged("sensors/#", true);
        Assert.True(Sessions(owner).Owners!.Holds("taken", claim.Number));

        await Poll.UntilAsync(() => Task.FromResult(!Match(adopter, "sensors/1").Contains(dead)), Converged, "the dead node's routes were kept");
        Assert.Equal([Routing(owner).Self], Match(adopter, "sensors/1"));
    }

    // What waits for a dead node's routes waits Cluster:Routing:ForwardAckTimeout at most, as for a node that does not answer; the routes
    // stay, refusing at once, until the limit of the wait for an adoption.
    [Fact]
    public async Task ADeadNodeWhoseSessionsNoNodeAdoptsRefusesAfterTheAcknowledgementBoundAndIsPurgedAfterTheLimit()
    {
        var cluster = await DeployAsync(2, adoptionWaitLimit: TimeSpan.FromSeconds(10), forwardAckTimeout: TimeSpan.FromSeconds(1));
        var (survivor, victim) = (cluster.Silos[0], cluster.Silos[1]);
        Broker(victim).Routes!.LocalFilterChanged("sensors/#", true);
        await UntilEveryoneKnowsAsync([survivor], victim, "sensors/#");
        var never = new TaskCompletionSource();
        Sessions(survivor).Adopting = () => never.Task;

        var dead = Routing(victim).Self;
        await cluster.StopSiloAsync(victim);

        await Poll.UntilAsync(() => Task.FromResult(Refusal(survivor, "sensors/1") is not null), Converged, "the dead node's routes were not kept");
        await RefusedAsNotAdoptedAsync(Refusal(survivor, "sensors/1")!);
        Assert.Contains(dead, Match(survivor, "sensors/1"));
        Assert.True(Refusal(survivor, "sensors/1") is { IsFaulted: true });
        await Poll.UntilAsync(() => Task.FromResult(Routing(survivor).Replica.IsEmpty), Converged, "the dead node's routes were kept past the limit");
        Assert.Null(Refusal(survivor, "sensors/1"));
        Assert.DoesNotContain(dead, Routing(survivor).LocalSnapshot().Adopted);
        never.SetResult();
    }
}
