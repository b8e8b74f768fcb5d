using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Cluster.Nodes;
using IoTHub.Cluster.Routing;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace IoTHub.Cluster.Tests;

/// <summary>
/// Acknowledged forwarding (docs/clustering.md#acknowledged-forwarding) on silos of Orleans' InProcessTestCluster: what the PUBACK or
/// PUBREC of a QoS 1 or 2 message forwarded to another node waits for ([MQTT-4.3.2-4], [MQTT-4.3.3-9]: sent having accepted
/// ownership), and that it is withheld when that node does not accept it: its commit fails, it dies, or the bound passes.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class AcknowledgedForwardingTests(PostgresServer server) : IAsyncLifetime
{
    private static readonly TimeSpan Converged = TimeSpan.FromSeconds(20);

    private InProcessTestCluster? _cluster;

    private InProcessTestCluster Cluster => _cluster!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    /// <summary>
    /// Two nodes, node 1 subscribed to <c>acked/#</c> as node 0 knows; failure detection as fast as IoTHub's defaults. With
    /// <paramref name="receipts"/>, their brokers share it as the store that keeps forward receipts.
    /// </summary>
    private async Task DeployAsync(TimeSpan forwardAckTimeout, ReceiptBook? receipts = null)
    {
        (_cluster, _) = await TestClusters.DeployAsync(server, 2, silo =>
        {
            if (receipts is not null)
            {
                silo.Services.AddSingleton<ILocalBroker>(new RecordingBroker { Book = receipts });
            }

            silo.Services.AddSingleton(new RoutingSettings
            {
                HeartbeatInterval = TimeSpan.FromMilliseconds(200),
                ForwardAckTimeout = forwardAckTimeout,
                CallTimeout = TimeSpan.FromMinutes(1),
            });
            silo.Configure<ClusterMembershipOptions>(options =>
            {
                options.ProbeTimeout = TimeSpan.FromSeconds(1);
                options.NumMissedProbesLimit = 2;
                options.MinProbeTimeout = TimeSpan.FromMilliseconds(500);
                options.MaxProbeTimeout = TimeSpan.FromSeconds(1);
                options.TableRefreshTimeout = TimeSpan.FromSeconds(3);
            });
        });
        Broker(1).Routes!.LocalFilterChanged("acked/#", true);
        await Poll.UntilAsync(() => Routing(0).Replica.Of(Routing(1).Self).Filters.Contains("acked/#"), Converged);
    }

    private ClusterRouting Routing(int silo) => Cluster.Silos[silo].ServiceProvider.GetRequiredService<ClusterRouting>();

    private RecordingBroker Broker(int silo) => (RecordingBroker)Cluster.Silos[silo].ServiceProvider.GetRequiredService<ILocalBroker>();

    private static MqttMessage Message(string topic, QualityOfService qos) => MqttMessage.Create(topic, "m"u8, qos, retain: false);

    private Task? Forward(string topic, QualityOfService qos)
    {
        Assert.Equal(1, Broker(0).Routes!.Forward(Message(topic, qos), default, out var accepted));
        return accepted;
    }

    [Fact]
    public async Task TheAcknowledgementWaitsUntilTheOtherNodeAcceptedTheWholeBatch()
    {
        await DeployAsync(TimeSpan.FromMinutes(1));

        // QoS 0 stays fire and forget. Delivered before the commit is held: a call waits for the one before it, so a QoS 0 message
        // sent alone and held with the rest would keep the batch below from arriving.
        Assert.Null(Forward("acked/0", QualityOfService.AtMostOnce));
        await Poll.UntilAsync(() => Broker(1).Delivered.Count == 1, Converged);
        var commit = Broker(1).Commit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // The PUBLISH packets of one read leave as one call, and one acceptance releases all their acknowledgements.
        var routes = Broker(0).Routes!;
        routes.BeginBatch();
        var accepted = new List<Task>();
        for (var i = 1; i <= 10; i++)
        {
            accepted.Add(Forward("acked/" + i, i % 2 == 0 ? QualityOfService.ExactlyOnce : QualityOfService.AtLeastOnce)!);
        }

        routes.EndBatch();
        Assert.All(accepted, task => Assert.Same(accepted[0], task));

        // Node 1 has routed them to its sessions but not committed what it stored: not accepted yet.
        await Poll.UntilAsync(() => Broker(1).Delivered.Count == 11, Converged);
        Assert.False(accepted[0].IsCompleted);
        Assert.Equal(10, Routing(0).Totals().Held);

        commit.SetResult();
        await accepted[0].WaitAsync(Converged);
        Assert.Equal(0, Routing(0).Totals().Held);
        Assert.Equal(0, Routing(0).Totals().NotAccepted);
    }

    [Fact]
    public async Task ACommitThatFailsOnTheOtherNodeWithholdsTheAcknowledgement()
    {
        await DeployAsync(TimeSpan.FromMinutes(1));
        var commit = Broker(1).Commit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var accepted = Forward("acked/1", QualityOfService.AtLeastOnce)!;
        await Poll.UntilAsync(() => !Broker(1).Delivered.IsEmpty, Converged);

        commit.SetException(new IOException("disk full"));

        await Assert.ThrowsAsync<ForwardNotAcceptedException>(() => accepted.WaitAsync(Converged));
        await Poll.UntilAsync(() => Routing(0).Totals().NotAccepted == 1, Converged);
        Assert.Equal(0, Routing(0).Totals().Held);
    }

    [Fact]
    public async Task TheAcknowledgementIsWithheldOnceTheBoundPasses()
    {
        var bound = TimeSpan.FromSeconds(1);
        await DeployAsync(bound);
        Broker(1).Commit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var started = TimeProvider.System.GetTimestamp();
        var accepted = Forward("acked/1", QualityOfService.ExactlyOnce)!;

        var failure = await Assert.ThrowsAsync<ForwardNotAcceptedException>(() => accepted.WaitAsync(Converged));
        Assert.Contains("ForwardAckTimeout", failure.Message, StringComparison.Ordinal);
        Assert.InRange(TimeProvider.System.GetElapsedTime(started), bound - TimeSpan.FromMilliseconds(50), Converged);
    }

    [Fact]
    public async Task ANodeThatDiesWithMessagesInFlightAndQueuedLeavesTheirAcknowledgementsWithheld()
    {
        // No bound and no call timeout within the test: only the node's death can end the wait.
        await DeployAsync(TimeSpan.FromMinutes(1));
        Broker(1).Commit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inFlight = Forward("acked/1", QualityOfService.AtLeastOnce)!;
        await Poll.UntilAsync(() => !Broker(1).Delivered.IsEmpty, Converged);
        var queued = Forward("acked/2", QualityOfService.AtLeastOnce)!;

        var dead = Routing(1).Self;
        await Cluster.KillSiloAsync(Cluster.Silos[1]);

        // The call out may have reached the node. What was queued is purged at the verdict and never leaves (not taken: its QoS 2 resends
        // may be routed afresh), or goes in a call that the placement refuses, which without a receipt tells nothing for certain: either way
        // its acknowledgement is withheld.
        Assert.False((await Assert.ThrowsAsync<ForwardNotAcceptedException>(() => inFlight.WaitAsync(Converged))).NotTaken);
        await Assert.ThrowsAsync<ForwardNotAcceptedException>(() => queued.WaitAsync(Converged));
        await Poll.UntilAsync(() => Routing(0).Replica.IsEmpty, Converged);

        // A call to the dead node is refused by the placement, with an exception that says why.
        var grains = Cluster.Silos[0].ServiceProvider.GetRequiredService<IGrainFactory>();
        await Assert.ThrowsAsync<NodeNotActiveException>(() => grains.GetGrain<IRoutesGrain>(dead).DeliverAsync([], null).WaitAsync(Converged));
    }

    /// <summary>
    /// docs/clustering.md#forward-receipts through Orleans: the QoS 2 call carries its receipt to the other node; that node dies before
    /// committing it, so once it is declared dead and fenced the call is known not taken (its resend may be routed afresh
    /// [MQTT-4.3.3-10]), where without receipts it may have been delivered, and at most once.
    /// </summary>
    [Fact]
    public async Task AQos2CallInFlightAtADeathIsKnownNotTakenWhenTheNodeNeverCommittedIt()
    {
        var receipts = new ReceiptBook();
        await DeployAsync(TimeSpan.FromMinutes(1), receipts);
        Broker(1).Commit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inFlight = Forward("acked/1", QualityOfService.ExactlyOnce)!;
        await Poll.UntilAsync(() => !receipts.Delivered.IsEmpty, Converged);
        var dead = Routing(1).Self;
        Assert.Equal(new ForwardReceipt(Routing(0).Self, dead, 1, 1), Assert.Single(receipts.Delivered));

        await Cluster.KillSiloAsync(Cluster.Silos[1]);

        Assert.True((await Assert.ThrowsAsync<ForwardNotAcceptedException>(() => inFlight.WaitAsync(Converged))).NotTaken);
        Assert.Equal(1, Routing(0).Totals().NotAccepted);
    }
}
