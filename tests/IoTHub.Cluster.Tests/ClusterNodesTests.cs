using System.Net;
using IoTHub.Cluster.Nodes;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace IoTHub.Cluster.Tests;

/// <summary>
/// The view of the nodes behind GET /api/v1/cluster, on silos of Orleans' InProcessTestCluster (no sockets between them)
/// whose membership is our table on a real PostgreSQL server: each node's connections come from that node itself.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class ClusterNodesTests(PostgresServer server) : IAsyncLifetime
{
    private InProcessTestCluster? _cluster;
    private string _connectionString = string.Empty;
    private int _silos;

    private InProcessTestCluster Cluster => _cluster!;

    public async Task InitializeAsync()
    {
        // Each silo its own count, so an answer from the wrong node shows.
        (_cluster, _connectionString) = await TestClusters.DeployAsync(server, 2,
            silo => silo.Services.AddSingleton<ILocalConnections>(new FixedConnections(10 * Interlocked.Increment(ref _silos))));
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task EveryActiveNodeIsListedWithTheConnectionsItCountsItself()
    {
        // The silos keep their membership in our table (the test cluster's own in-memory one is replaced).
        var table = await new Membership.PostgresMembershipTable(_connectionString, Cluster.Options.ClusterId).ReadAll();
        Assert.Equal(Cluster.Silos.Select(s => s.SiloAddress).Order(), table.Members.Select(m => m.Item1.SiloAddress).Order());

        var silos = Cluster.Silos.ToDictionary(s => s.SiloAddress, s => s.ServiceProvider.GetRequiredService<ILocalConnections>().Count);
        Assert.Equal(2, silos.Values.Distinct().Count());

        foreach (var asking in Cluster.Silos)
        {
            var view = asking.ServiceProvider.GetRequiredService<IClusterNodes>();
            var nodes = await view.ReadAsync(CancellationToken.None);

            Assert.Equal(2, nodes.Count);
            Assert.Equal(asking.SiloAddress.ToParsableString(), view.Self);
            foreach (var node in nodes)
            {
                var address = SiloAddress.FromParsableString(node.Id);
                Assert.Equal(NodeStatus.Active, node.Status);
                Assert.Equal(silos[address], node.Connections);
                Assert.Equal(address.Equals(asking.SiloAddress), node.Self);
                Assert.Equal(address.Endpoint.Port, node.Port);
                Assert.True(node.LastHeartbeat >= node.StartedAt);
            }
        }
    }

    [Fact]
    public async Task ANodeGrainIsNeverPlacedOnANodeThatIsNotAMember()
    {
        var grains = Cluster.Silos[0].ServiceProvider.GetRequiredService<IGrainFactory>();
        var stranger = SiloAddress.New(IPAddress.Loopback, 1, 1);

        await Assert.ThrowsAnyAsync<OrleansException>(() => grains.GetGrain<INodeGrain>(stranger.ToParsableString()).CountConnectionsAsync());
    }

    [Fact]
    public async Task AStoppedNodeIsShownDeadWithoutConnections()
    {
        var stopped = Cluster.Silos[1];
        await Cluster.StopSiloAsync(stopped);

        var nodes = await Cluster.Silos[0].ServiceProvider.GetRequiredService<IClusterNodes>().ReadAsync(CancellationToken.None);

        var node = Assert.Single(nodes, n => n.Id == stopped.SiloAddress.ToParsableString());
        Assert.Equal(NodeStatus.Dead, node.Status);
        Assert.Null(node.Connections);
    }

    private sealed class FixedConnections(int count) : ILocalConnections
    {
        public int Count => count;
    }
}

/// <summary>Orleans' silo statuses as the API shows them (no cluster needed).</summary>
public sealed class NodeStatusTests
{
    [Theory]
    [InlineData(SiloStatus.Created, "Joining")]
    [InlineData(SiloStatus.Joining, "Joining")]
    [InlineData(SiloStatus.Active, "Active")]
    [InlineData(SiloStatus.ShuttingDown, "ShuttingDown")]
    [InlineData(SiloStatus.Stopping, "ShuttingDown")]
    [InlineData(SiloStatus.Dead, "Dead")]
    public void OrleansStatusesFoldIntoFour(SiloStatus status, string folded) => Assert.Equal(folded, OrleansClusterNodes.Fold(status).ToString());
}

/// <summary>The view of the nodes when the membership database does not answer.</summary>
public sealed class UnreadableMembershipTests
{
    [Fact]
    public async Task AMembershipThatCannotBeReadIsReportedAsTheClusterStore()
    {
        var table = new Membership.PostgresMembershipTable($"Host=127.0.0.1;Port={FreePort.Next()};Username=nobody;Pooling=false", "blue");
        // Neither the silo's details nor the grains are reached before the membership is read.
        var view = new OrleansClusterNodes(table, null!, null!, new NoConnections());

        var e = await Assert.ThrowsAsync<Membership.ClusterStoreException>(() => view.ReadAsync(CancellationToken.None));

        Assert.Contains("Failed to connect", e.Message, StringComparison.Ordinal);
    }

    private sealed class NoConnections : ILocalConnections
    {
        public int Count => 0;
    }
}
