using Orleans;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace IoTHub.Cluster.Nodes;

/// <summary>One per node, keyed by its silo address and activated on that node: what the node reports to the others.</summary>
internal interface INodeGrain : IGrainWithStringKey
{
    /// <summary>The MQTT connections of that node now.</summary>
    Task<int> CountConnectionsAsync();
}

[OnNodePlacement]
internal sealed class NodeGrain(ILocalConnections connections) : Grain, INodeGrain
{
    public Task<int> CountConnectionsAsync() => Task.FromResult(connections.Count);
}

/// <summary>Places a grain on the node whose silo address is its key, and nowhere else.</summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
internal sealed class OnNodePlacement : PlacementStrategy;

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
internal sealed class OnNodePlacementAttribute : PlacementAttribute
{
    public OnNodePlacementAttribute()
        : base(new OnNodePlacement())
    {
    }
}

internal sealed class OnNodePlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var node = SiloAddress.FromParsableString(target.GrainIdentity.Key.ToString()!);
        return context.GetCompatibleSilos(target).Contains(node)
            ? Task.FromResult(node)
            : throw new NodeNotActiveException(node);
    }
}

/// <summary>
/// A call to a grain of a node that is not an active member of the cluster (dead, or gone) was refused by the placement. Not taken as
/// proof that the node did not get the call: a QoS 2 stream through a death got duplicates when it was (docs/clustering.md#forward-receipts).
/// </summary>
[GenerateSerializer]
public sealed class NodeNotActiveException : OrleansException
{
    public NodeNotActiveException()
    {
    }

    public NodeNotActiveException(string message)
        : base(message)
    {
    }

    public NodeNotActiveException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal NodeNotActiveException(SiloAddress node)
        : base($"Node {node} is not an active member of the cluster.")
    {
    }
}
