namespace IoTHub.Broker.Storage;

/// <summary>
/// Where the broker keeps what must survive a restart. A provider loads everything once at start
/// and then applies batches of <see cref="StorageOperation"/>s, each batch in one transaction.
/// Only <see cref="StorageWriter"/> calls <see cref="CommitAsync"/>, one batch at a time.
/// </summary>
public interface IBrokerStore : IAsyncDisposable
{
    /// <summary>Everything stored: retained messages, persistent sessions with their state, pending wills.</summary>
    Task<StoredState> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies <paramref name="batch"/> in order, all or nothing. In <see cref="StorageDurability.Strict"/>
    /// mode it returns only once the batch is on stable storage (fsync, synchronous commit).
    /// </summary>
    Task CommitAsync(ReadOnlyMemory<StorageOperation> batch, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether what it commits can be loaded by another broker than the one writing it (after a restart, or by another
    /// node): false for a memory store of its own, where waiting for a commit protects nothing a crash would keep.
    /// </summary>
    bool OutlivesBroker => true;
}

/// <summary>What a completed write promises.</summary>
public enum StorageDurability
{
    /// <summary>A write completes after its batch is committed and flushed to disk: nothing acknowledged is lost, even on power loss.</summary>
    Strict,

    /// <summary>A write completes at once and is committed behind (write-behind): a crash may lose the last moments of writes.</summary>
    Relaxed,
}
