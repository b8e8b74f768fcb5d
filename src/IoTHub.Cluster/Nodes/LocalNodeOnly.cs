using System.Diagnostics;

namespace IoTHub.Cluster.Nodes;

/// <summary>The nodes without clustering: this process alone, always active, with its own connection count. No Orleans.</summary>
internal sealed class LocalNodeOnly(ILocalConnections connections, TimeProvider time) : IClusterNodes
{
    private static readonly DateTimeOffset Started = new(Process.GetCurrentProcess().StartTime.ToUniversalTime());

    public string Self => "local";

    public Task<IReadOnlyList<ClusterNode>> ReadAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ClusterNode>>([new ClusterNode(Self, Environment.MachineName, "127.0.0.1", 0, NodeStatus.Active, Started, time.GetUtcNow(),
            connections.Count, Self: true)]);
}
