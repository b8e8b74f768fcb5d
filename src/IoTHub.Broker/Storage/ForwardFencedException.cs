namespace IoTHub.Broker.Storage;

/// <summary>
/// A batch carrying a forward receipt (<see cref="StorageOperation.ForwardReceipt"/>) of a node that another node declared dead and fenced
/// (<see cref="ISharedSessionStore.FenceForwardsAsync"/>): nothing of the batch is stored.
/// </summary>
public sealed class ForwardFencedException(string node)
    : InvalidOperationException($"Node '{node}' was declared dead and fenced: its batches carrying forward receipts no longer commit.")
{
    /// <summary>The fenced node.</summary>
    public string Node { get; } = node;
}
