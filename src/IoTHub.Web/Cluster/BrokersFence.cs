using IoTHub.Cluster.Membership;
using IoTHub.Web.Mqtt;

namespace IoTHub.Web.Cluster;

/// <summary>A clustered node's brokers stop serving while it has lost its membership store, and serve again when it is back (docs/clustering.md#split-brain).</summary>
internal sealed class BrokersFence(BrokerRegistry registry) : INodeFence
{
    private volatile string? _reason;

    /// <summary>Why the node serves no client now; null while it serves.</summary>
    public string? Reason => _reason;

    public void Fence(string reason)
    {
        _reason = reason;
        foreach (var broker in registry.Brokers.Values)
        {
            broker.StopServing(reason);
        }
    }

    public void Lift()
    {
        foreach (var broker in registry.Brokers.Values)
        {
            broker.ResumeServing();
        }

        _reason = null;
    }
}
