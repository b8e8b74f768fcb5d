using IoTHub.Broker.Storage;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// A group of writes (<see cref="StorageWriter.BeginGroup"/> ... <see cref="StorageWriter.EndGroup"/>) commits in one batch, as a forwarded
/// call's session writes and its receipt must: the writer's loop does not take the open batch while a group is open.
/// </summary>
public sealed class StorageWriterGroupTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Writes_of_a_group_land_in_one_commit_even_when_the_loop_wants_to_commit_in_between()
    {
        var store = new BatchRecordingStore();
        var writer = new StorageWriter(store, StorageDurability.Strict);
        var first = StorageOperation.UpsertSession("first", 60, null);
        var other = StorageOperation.UpsertSession("other", 60, null);
        var last = StorageOperation.ForwardReceipt("10.0.0.1:11111", "10.0.0.2:11111", 1, 0);

        // The group's routine runs on a thread of its own, which it keeps from BeginGroup to EndGroup (as a synchronous routine does),
        // and waits in the middle for the test to let it write its last operation.
        var opened = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        var proceed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ended = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        var group = new Thread(() =>
        {
            writer.BeginGroup();
            opened.SetResult(writer.WriteAsync(first).AsTask());
            proceed.Task.Wait(Timeout);
            var lastWritten = writer.WriteAsync(last).AsTask();
            writer.EndGroup();
            ended.SetResult(lastWritten);
        }) { IsBackground = true, Name = "group" };
        group.Start();
        var firstWritten = await opened.Task.WaitAsync(Timeout);

        // A write from another thread joins the open batch too.
        var otherWritten = writer.WriteAsync(other).AsTask();

        // The writes rang the loop: it wants to take the open batch and waits for the group (without groups it takes and commits at once,
        // which ends this wait too, and the group's last write then goes to another batch).
        await Poll.UntilAsync(() => writer.TakeWaitsForGroups || store.Batches.Count > 0, Timeout);

        proceed.SetResult();
        var lastWritten = await ended.Task.WaitAsync(Timeout);
        await Task.WhenAll(firstWritten, otherWritten, lastWritten).WaitAsync(Timeout);
        await writer.DisposeAsync().AsTask().WaitAsync(Timeout);

        Assert.Equal([first, other, last], Assert.Single(store.Batches));
    }

    /// <summary>Records the operations of each commit.</summary>
    private sealed class BatchRecordingStore : IBrokerStore
    {
        private readonly Lock _lock = new();
        private readonly List<StorageOperation[]> _batches = [];

        public List<StorageOperation[]> Batches
        {
            get
            {
                lock (_lock)
                {
                    return [.. _batches];
                }
            }
        }

        public Task<StoredState> LoadAsync(CancellationToken cancellationToken = default) => Task.FromResult(new StoredState());

        public Task CommitAsync(ReadOnlyMemory<StorageOperation> batch, CancellationToken cancellationToken = default)
        {
            lock (_lock)
            {
                _batches.Add(batch.ToArray());
            }

            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => default;
    }
}
