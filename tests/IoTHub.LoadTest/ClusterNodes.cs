using System.Globalization;
using System.Text;
using IoTHub.Data.Stores;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Npgsql;

namespace IoTHub.LoadTest;

/// <summary>
/// IoTHub processes as the nodes of one cluster (docs/clustering.md), for the cross-node scenarios (<see cref="Scenario.Nodes"/>):
/// each pinned like a single broker, sessions in memory (or, shared, in the database too), the membership in a new database of the run's PostgreSQL. Ready once a
/// message published on the first node reaches a subscriber on each of the others.
/// </summary>
internal sealed class ClusterNodes : IAsyncDisposable
{
    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(60);

    private readonly List<BrokerProcess> _nodes;

    private ClusterNodes(List<BrokerProcess> nodes) => _nodes = nodes;

    /// <summary>The nodes in start order, with ascending cluster ports; publishers use the first, which adopts a dead node's sessions.</summary>
    public IReadOnlyList<BrokerProcess> Nodes => _nodes;

    /// <summary>Starts <paramref name="count"/> nodes; with <paramref name="sharedStore"/> they keep their sessions in the cluster's database (failover).</summary>
    public static async Task<ClusterNodes> StartAsync(int count, Paths paths, string cpu, PostgresServer database, bool sharedStore = false)
    {
        var created = await database.CreateDatabaseAsync().ConfigureAwait(false);
        await PostgresStorage.MigrateAsync(created).ConfigureAwait(false);

        // The tests' server hands out connection strings without a pool (a test's store holds one connection); nodes in production
        // keep Npgsql's default pool, and a claim's transaction on a connection opened anew cost 2.7 ms of a node's CPU per CONNECT.
        var connectionString = new NpgsqlConnectionStringBuilder(created) { Pooling = true }.ToString();
        var name = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var nodes = new List<BrokerProcess>();
        var cluster = new ClusterNodes(nodes);
        // Ascending cluster ports: the first node has the lowest silo address, the one that adopts a dead node's sessions.
        var clusterPorts = new SortedSet<int>();
        while (clusterPorts.Count < count)
        {
            clusterPorts.Add(BrokerProcess.FreePort());
        }

        try
        {
            foreach (var clusterPort in clusterPorts)
            {
                nodes.Add(await BrokerProcess.StartAsync(BrokerKind.IoTHub, paths, cpu, Transport.Tcp, certificates: null, extraArguments:
                [
                    .. sharedStore ? ["--Storage:Provider=postgres", $"--Storage:ConnectionString={connectionString}"] : new[] { "--Storage:Provider=memory" },
                    "--Cluster:Enabled=true", $"--Cluster:Name={name}", $"--Cluster:ConnectionString={connectionString}",
                    "--Cluster:Port=" + clusterPort.ToString(CultureInfo.InvariantCulture),
                ]).ConfigureAwait(false));
            }

            await cluster.WaitUntilRoutingAsync().ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The clients' way to node <paramref name="index"/>.</summary>
    public ClientTransport ClientsOf(int index) => new(_nodes[index].Port, Transport.Tcp, authority: null, resumeTlsSessions: false);

    /// <summary>CPU seconds of every node together.</summary>
    public double CpuSeconds() => _nodes.Sum(n => n.CpuSeconds());

    /// <summary>CPU seconds of each node.</summary>
    public double[] CpuSecondsEach() => [.. _nodes.Select(n => n.CpuSeconds())];

    /// <summary>RSS of every node together.</summary>
    public long RssBytes() => _nodes.Sum(n => n.RssBytes());

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Publishes a probe on the first node every 200 ms until a subscriber on each other node has one: the nodes have joined and
    /// learned each other's filters (a subscription reaches the others within a filter batch, 10 ms, once they know each other).
    /// </summary>
    private async Task WaitUntilRoutingAsync()
    {
        var probes = new List<LoadClient>();
        try
        {
            for (var i = 1; i < _nodes.Count; i++)
            {
                var probe = await LoadClient.ConnectAsync(ClientsOf(i), "probe-" + i.ToString(CultureInfo.InvariantCulture), []).ConfigureAwait(false);
                probes.Add(probe);
                await probe.SubscribeAsync(["load/probe"], QualityOfService.AtMostOnce, JoinTimeout).ConfigureAwait(false);
            }

            await using var publisher = await LoadClient.ConnectAsync(ClientsOf(0), "probe-publisher", []).ConfigureAwait(false);
            using var deadline = new CancellationTokenSource(JoinTimeout);
            var topics = new[] { Encoding.UTF8.GetBytes("load/probe") };
            var payload = new byte[LoadClient.PayloadHeader];
            while (probes.Exists(p => Volatile.Read(ref p.Received) == 0))
            {
                await publisher.PublishAsync(topics, null, payload, 0, QualityOfService.AtMostOnce, 1, cancellation: deadline.Token).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromMilliseconds(200), deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the {_nodes.Count} nodes did not route a message from the first to the others within {JoinTimeout.TotalSeconds:N0} s");
        }
        finally
        {
            foreach (var probe in probes)
            {
                await probe.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
