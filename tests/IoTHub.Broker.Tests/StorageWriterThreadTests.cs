using IoTHub.Broker.Messages;
using IoTHub.Broker.Storage;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>
/// The storage writer commits on a thread of its own, never on a thread-pool thread (issue 19): SQLite and the file
/// store commit synchronously, fsync included, and on one core a pool thread held that long makes every connection
/// wait. The store below records the thread that runs the synchronous start of each commit, where those stores do all their work.
/// </summary>
public sealed class StorageWriterThreadTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly StorageOperation Write = StorageOperation.SetRetained(MqttMessage.Restore("t", "v"u8, QualityOfService.AtLeastOnce, true, default, expiresAtUtc: null));

    [Theory]
    [InlineData(StorageDurability.Strict)]
    [InlineData(StorageDurability.Relaxed)]
    public async Task Commits_run_on_one_thread_of_the_writer_not_on_the_thread_pool(StorageDurability durability)
    {
        var store = new ThreadRecordingStore();
        var writer = new StorageWriter(store, durability);
        for (var i = 0; i < 3; i++)
        {
            await writer.WriteAsync(Write).AsTask().WaitAsync(Timeout);
            await writer.FlushAsync().WaitAsync(Timeout);
        }

        await writer.DisposeAsync().AsTask().WaitAsync(Timeout);

        Assert.Equal(3, store.Commits.Count);
        var (thread, onThreadPool) = Assert.Single(store.Commits.Distinct());
        Assert.False(onThreadPool);
        // Closing the writer ends its thread.
        Assert.True(thread.Join(Timeout));
    }

    /// <summary>Commits synchronously, as SQLite and the file store do, and notes the thread of each commit.</summary>
    private sealed class ThreadRecordingStore : IBrokerStore
    {
        private readonly MemoryBrokerStore _inner = new();

        /// <summary>The thread of each commit, and whether it was a thread-pool thread then (a thread that ended cannot be asked).</summary>
        public List<(Thread Thread, bool OnThreadPool)> Commits { get; } = [];

        public Task<StoredState> LoadAsync(CancellationToken cancellationToken = default) => _inner.LoadAsync(cancellationToken);

        public Task CommitAsync(ReadOnlyMemory<StorageOperation> batch, CancellationToken cancellationToken = default)
        {
            Commits.Add((Thread.CurrentThread, Thread.CurrentThread.IsThreadPoolThread));
            return _inner.CommitAsync(batch, cancellationToken);
        }

        public ValueTask DisposeAsync() => _inner.DisposeAsync();
    }
}
