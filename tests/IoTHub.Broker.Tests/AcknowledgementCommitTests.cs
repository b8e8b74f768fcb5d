using IoTHub.Broker.Messages;
using IoTHub.Broker.Storage;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// What the acknowledgement of a packet waits for: every write the packet made, whichever batch each
/// one landed in, and a failed one even when its batch failed before the packet was done. The
/// interleavings a full disk produces at random are forced here with a store whose commit is held
/// or failed (<see cref="PausingStore"/> over the real memory store). Packet handling is synchronous,
/// so the waits here block the thread: the commit a packet collects is kept per thread.
/// </summary>
public sealed class AcknowledgementCommitTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_write_whose_batch_failed_before_the_packet_was_done_holds_back_the_acknowledgement()
    {
        var store = new PausingStore(new MemoryBrokerStore());
        await using var writer = new StorageWriter(store, StorageDurability.Strict);
        var persistence = new Persistence(writer);
        store.FailNextCommit(new IOException("No space left on device"));

        Persistence.BeginPacket();
        persistence.Write(StorageOperation.SetRetained(Retained("a")));
        WaitDone(writer.FlushAsync());
        var commit = Persistence.EndPacket();

        // Before: the failed commit was already complete, taken for "nothing pending", and the PUBACK went out.
        Assert.NotNull(commit);
        await Assert.ThrowsAsync<IOException>(() => commit.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Writes_of_one_packet_in_two_batches_are_acknowledged_only_when_both_committed()
    {
        var store = new PausingStore(new MemoryBrokerStore());
        await using var writer = new StorageWriter(store, StorageDurability.Strict);
        var persistence = new Persistence(writer);
        var held = store.PauseNextCommit();
        store.FailNextCommit(new IOException("No space left on device"));

        // A retained PUBLISH that is also queued for an offline session: the writer takes the first
        // write's batch between the two writes, that batch fails (the disk is full) and the second,
        // smaller one commits.
        Persistence.BeginPacket();
        persistence.Write(StorageOperation.SetRetained(Retained("b")));
        WaitDone(held);
        persistence.Write(StorageOperation.EnqueueMessage("offline", 1, Retained("b"), QualityOfService.AtLeastOnce, retain: false));
        store.Release();
        WaitDone(writer.FlushAsync());
        var commit = Persistence.EndPacket();

        // Before: only the last batch was awaited ("batches commit in order"), so the PUBACK went out
        // for a message whose retained copy was never stored.
        Assert.Equal(1, writer.FailedBatches);
        Assert.Equal(1, writer.CommittedBatches);
        Assert.NotNull(commit);
        await Assert.ThrowsAsync<IOException>(() => commit.WaitAsync(Timeout));
        Assert.Empty((await store.LoadAsync()).Retained);
    }

    [Fact]
    public async Task Writes_of_one_packet_in_two_committed_batches_need_no_wait_once_done()
    {
        var store = new PausingStore(new MemoryBrokerStore());
        await using var writer = new StorageWriter(store, StorageDurability.Strict);
        var persistence = new Persistence(writer);
        var held = store.PauseNextCommit();

        Persistence.BeginPacket();
        persistence.Write(StorageOperation.SetRetained(Retained("c")));
        WaitDone(held);
        persistence.Write(StorageOperation.SetRetained(Retained("d")));
        Assert.False(writer.FlushAsync().IsCompleted);
        store.Release();
        WaitDone(writer.FlushAsync());

        Assert.Null(Persistence.EndPacket());
        Assert.Equal(2, writer.CommittedBatches);
    }

    private static MqttMessage Retained(string topic) => MqttMessage.Restore(topic, "v"u8, QualityOfService.AtLeastOnce, retain: true, default, expiresAtUtc: null);

    /// <summary>Blocks until <paramref name="task"/> is done, failed or not, within the timeout.</summary>
    private static void WaitDone(Task task) => Assert.True(((IAsyncResult)task).AsyncWaitHandle.WaitOne(Timeout), "the commit did not complete");
}
