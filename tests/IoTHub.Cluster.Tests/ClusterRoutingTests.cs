using System.Text;
using IoTHub.Broker.Messages;
using IoTHub.Cluster.Routing;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace IoTHub.Cluster.Tests;

/// <summary>
/// Cross-node routing on silos of Orleans' InProcessTestCluster over our PostgreSQL membership: filter changes reach the other
/// nodes, a gap is filled by a snapshot, a dead node is purged, and messages go to each matching node once, in batches.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class ClusterRoutingTests(PostgresServer server) : IAsyncLifetime
{
    private static readonly TimeSpan Converged = TimeSpan.FromSeconds(20);

    private InProcessTestCluster? _cluster;

    private InProcessTestCluster Cluster => _cluster!;

    public async Task InitializeAsync() =>
        (_cluster, _) = await TestClusters.DeployAsync(server, 2, silo => silo.Services.AddSingleton(new RoutingSettings
        {
            ForwardBatchSize = 32,
            ForwardWindow = TimeSpan.FromMilliseconds(50),
            HeartbeatInterval = TimeSpan.FromMilliseconds(200),
        }));

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    private ClusterRouting Routing(int silo) => Cluster.Silos[silo].ServiceProvider.GetRequiredService<ClusterRouting>();

    private RecordingBroker Broker(int silo) => (RecordingBroker)Cluster.Silos[silo].ServiceProvider.GetRequiredService<ILocalBroker>();

    private Task UntilFiltersAsync(int observer, int node, params string[] filters) =>
        Poll.UntilAsync(() => Routing(observer).Replica.Of(Routing(node).Self).Filters.Order(StringComparer.Ordinal).SequenceEqual(filters),
            Converged);

    [Fact]
    public async Task FilterChangesReachTheOtherNodeInOrder()
    {
        var routes = Broker(0).Routes!;
        routes.LocalFilterChanged("room/+/temp", true);
        routes.LocalFilterChanged("alarms/#", true);
        routes.LocalFilterChanged("gone", true);
        routes.LocalFilterChanged("gone", false);
        await UntilFiltersAsync(1, 0, "alarms/#", "room/+/temp");

        routes.LocalFilterChanged("room/+/temp", false);
        await UntilFiltersAsync(1, 0, "alarms/#");
        Assert.Equal(Routing(0).LocalSnapshot().Sequence, Routing(1).Replica.Of(Routing(0).Self).Sequence);
        Assert.Empty(Routing(0).Replica.Of(Routing(1).Self).Filters);
    }

    [Fact]
    public async Task AGapIsFilledWithTheSendersSnapshot()
    {
        Broker(0).Routes!.LocalFilterChanged("real/#", true);
        await UntilFiltersAsync(1, 0, "real/#");
        var from = Routing(0).Self;

        // A batch that skips numbers (those before it were lost): nothing of it is applied, the sender's snapshot is.
        var ahead = Routing(1).Replica.Of(from).Sequence + 2;
        await Routing(1).ApplyFiltersAsync(from, new FilterBatch(ahead, [new FilterDelta("phantom", true)], []));

        Assert.Equal(["real/#"], Routing(1).Replica.Of(from).Filters);
        Assert.Equal(Routing(0).LocalSnapshot().Sequence, Routing(1).Replica.Of(from).Sequence);
    }

    [Fact]
    public async Task MessagesGoOnceToEachMatchingNodeInBatchesWithWhatSubscribersNeed()
    {
        Broker(1).Routes!.LocalFilterChanged("t/#", true);
        Broker(1).Routes!.LocalFilterChanged("t/+", true);
        await UntilFiltersAsync(0, 1, "t/#", "t/+");
        var forward = Broker(0).Routes!;

        var properties = new MqttProperties
        {
            ContentType = "text/plain",
            ResponseTopic = "reply/here",
            CorrelationData = [1, 2, 3],
            MessageExpiryInterval = 600,
            UserProperties = [new UserProperty("k", "v")],
        };
        Assert.Equal(1, forward.Forward(MqttMessage.Create("t/first", "hello"u8, QualityOfService.ExactlyOnce, retain: true, properties, "pub"), default, out _));
        for (var i = 0; i < 99; i++)
        {
            Assert.Equal(1, forward.Forward(MqttMessage.Create("t/" + i, Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                QualityOfService.AtLeastOnce, retain: false), default, out _));
        }

        Assert.Equal(0, forward.Forward(MqttMessage.Create("other", "x"u8, QualityOfService.AtMostOnce, retain: false), default, out _));
        Assert.Equal(0, forward.Forward(MqttMessage.Create("$SYS/t", "x"u8, QualityOfService.AtMostOnce, retain: false), default, out _));

        await Poll.UntilAsync(() => Broker(1).Delivered.Count >= 100, Converged);
        var delivered = Broker(1).Delivered.ToArray();
        Assert.Equal(100, delivered.Length);
        Assert.Equal(["t/first", .. Enumerable.Range(0, 99).Select(i => "t/" + i)], delivered.Select(m => m.Topic));
        Assert.Equal(100, Routing(1).Received);

        var first = delivered[0];
        Assert.Equal("hello"u8.ToArray(), first.Payload.ToArray());
        Assert.Equal(QualityOfService.ExactlyOnce, first.QualityOfService);
        Assert.True(first.Retain);
        Assert.Equal("pub", first.PublisherId);
        Assert.Equal(MqttMessage.Create("t/first", "hello"u8, QualityOfService.ExactlyOnce, true, properties).Properties.ToArray(), first.Properties.ToArray());
        Assert.InRange(first.ExpiresAtUtc!.Value, DateTimeOffset.UtcNow.AddSeconds(590), DateTimeOffset.UtcNow.AddSeconds(601));
        Assert.Null(delivered[1].ExpiresAtUtc);

        // Batched: a call per window or per 32 messages, not one per message.
        var nodes = new List<NodeRoutes>();
        Routing(0).Replica.Match("t/x", nodes, []);
        var outbox = Assert.Single(nodes).Outbox!;
        Assert.Equal(100, outbox.Sent);
        Assert.InRange(outbox.Batches, 4, 20);
        Assert.Empty(Broker(0).Delivered);
    }

    // 5.0 §4.8.2: one member of a share group gets each message. A group with members only on the other node has its turn sent
    // there with the message, flagged for that group; ordinary subscribers there are flagged apart.
    [Fact]
    public async Task AShareGroupsTurnGoesWithTheMessageToTheNodeWithItsMembers()
    {
        Broker(1).Routes!.LocalFilterChanged("$share/g/jobs/#", true);
        Broker(1).Routes!.LocalFilterChanged("alerts/+", true);
        await UntilFiltersAsync(0, 1, "$share/g/jobs/#", "alerts/+");
        var forward = Broker(0).Routes!;

        Assert.Equal(1, forward.Forward(MqttMessage.Create("jobs/1", "j"u8, QualityOfService.AtLeastOnce, retain: false), default, out _));
        Assert.Equal(1, forward.Forward(MqttMessage.Create("alerts/1", "a"u8, QualityOfService.AtLeastOnce, retain: false), default, out _));
        Broker(1).Routes!.LocalFilterChanged("jobs/#", true);
        await UntilFiltersAsync(0, 1, "$share/g/jobs/#", "alerts/+", "jobs/#");
        Assert.Equal(1, forward.Forward(MqttMessage.Create("jobs/2", "j"u8, QualityOfService.AtLeastOnce, retain: false), default, out _));

        await Poll.UntilAsync(() => Broker(1).Delivered.Count >= 3, Converged);
        Assert.Equal(["jobs/1", "alerts/1", "jobs/2"], Broker(1).Delivered.Select(m => m.Topic));
        var to = Broker(1).DeliveredTo.ToArray();
        Assert.Equal([false, true, true], to.Select(t => t.ToSubscribers));
        Assert.Equal(["$share/g/jobs/#"], to[0].SharedGroups);
        Assert.Empty(to[1].SharedGroups);
        Assert.Equal(["$share/g/jobs/#"], to[2].SharedGroups);
    }

    // Every node keeps each topic's retained message: a retained publish goes to the nodes without a matching subscription too,
    // flagged for no subscriber there, and only the nodes with subscribers count as reached.
    [Fact]
    public async Task ARetainedMessageGoesToEveryNodeAndCountsOnlyThoseWithSubscribers()
    {
        var forward = Broker(0).Routes!;
        await Poll.UntilAsync(() => Routing(0).Replica.Known.Length == 1, Converged);

        Assert.Equal(0, forward.Forward(MqttMessage.Create("status/1", "on"u8, QualityOfService.AtLeastOnce, retain: true), default, out _));
        Assert.Equal(0, forward.Forward(MqttMessage.Create("status/2", "live"u8, QualityOfService.AtLeastOnce, retain: false), default, out _));

        Routing(0).ShareRetained(MqttMessage.Create("status/3", "set by an operator"u8, QualityOfService.AtMostOnce, retain: true));

        await Poll.UntilAsync(() => Broker(1).Delivered.Count >= 2, Converged);
        Assert.Equal(["status/1", "status/3"], Broker(1).Delivered.Select(m => m.Topic));
        Assert.All(Broker(1).DeliveredTo, to =>
        {
            Assert.False(to.ToSubscribers);
            Assert.Empty(to.SharedGroups);
        });
    }

    [Fact]
    public async Task ADeadNodesFiltersArePurged()
    {
        Broker(1).Routes!.LocalFilterChanged("sensors/#", true);
        await UntilFiltersAsync(0, 1, "sensors/#");
        Assert.Equal(1, Broker(0).Routes!.Forward(MqttMessage.Create("sensors/1", "x"u8, QualityOfService.AtMostOnce, retain: false), default, out _));

        await Cluster.StopSiloAsync(Cluster.Silos[1]);

        await Poll.UntilAsync(() => Routing(0).Replica.IsEmpty, Converged);
        Assert.Equal(0, Broker(0).Routes!.Forward(MqttMessage.Create("sensors/1", "x"u8, QualityOfService.AtMostOnce, retain: false), default, out _));
    }
}
