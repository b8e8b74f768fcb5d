using Orleans.Runtime;

namespace IoTHub.Cluster.Nodes;

/// <summary>Takes this node out of the cluster while its process goes on (a drain, docs/clustering.md#drain-and-rolling-restarts).</summary>
internal interface INodeLeave
{
    /// <summary>Leaves the membership cleanly: written shutting down, then dead; the others purge its routes at once.</summary>
    Task LeaveAsync(CancellationToken cancellationToken);
}

/// <summary>Stops the Orleans silo, as the host does at its own stop; the host's later stop finds it stopped and waits for nothing.</summary>
internal sealed class SiloLeave(Silo silo) : INodeLeave
{
    public Task LeaveAsync(CancellationToken cancellationToken) => silo.StopAsync(cancellationToken);
}
