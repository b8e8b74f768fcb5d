using IoTHub.Broker.Messages;
using IoTHub.Broker.Storage;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Data.Tests;

/// <summary>
/// What every storage provider must do. Each provider's test class derives from this one and says
/// how to open its store at the test's own location (a folder, a database file, a database).
/// </summary>
public abstract class StoreContract : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset Noon = new(2026, 5, 1, 12, 0, 0, 123, TimeSpan.Zero);

    protected IBrokerStore Store { get; set; } = null!;

    public virtual async Task InitializeAsync() => Store = await OpenAsync();

    public virtual async Task DisposeAsync() => await Store.DisposeAsync();

    /// <summary>Opens a store on this test's data; every call opens the same data.</summary>
    protected abstract Task<IBrokerStore> OpenAsync();

    /// <summary>Loads the data through a second, independent reader while <see cref="Store"/> stays open.</summary>
    protected virtual async Task<StoredState> LoadIndependentlyAsync()
    {
        var other = await OpenAsync();
        await using (other)
        {
            return await other.LoadAsync();
        }
    }

    [Fact]
    public async Task A_new_store_is_empty()
    {
        var state = await Store.LoadAsync();
        Assert.Empty(state.Retained);
        Assert.Empty(state.Sessions);
        Assert.Empty(state.Wills);
    }

    [Fact]
    public async Task Retained_messages_are_stored_replaced_and_deleted()
    {
        await CommitAsync(
            StorageOperation.SetRetained(Message("a/1", "one", QualityOfService.AtLeastOnce, properties: [0x01, 0x01])),
            StorageOperation.SetRetained(Message("a/2", "two")),
            StorageOperation.SetRetained(Message("a/3", "")));
        await CommitAsync(
            StorageOperation.SetRetained(Message("a/1", "one again", QualityOfService.ExactlyOnce, properties: [0x03, 0x00, 0x01, 0x78])),
            StorageOperation.DeleteRetained("a/2"));

        var state = await ReopenAsync();

        var retained = state.Retained.OrderBy(m => m.Topic, StringComparer.Ordinal).ToList();
        Assert.Equal(2, retained.Count);
        AssertMessage(Message("a/1", "one again", QualityOfService.ExactlyOnce, properties: [0x03, 0x00, 0x01, 0x78]), retained[0]);
        AssertMessage(Message("a/3", ""), retained[1]);
    }

    [Fact]
    public async Task Retained_messages_keep_when_they_were_kept_and_their_publishers_client_id_and_user_name()
    {
        var later = Noon.AddMinutes(5);
        await CommitAsync(
            StorageOperation.SetRetained(Message("p/1", "from a client", expiresAt: Noon.AddDays(1)).KeptAsRetained(Noon, "meter-user", "meter-7")),
            StorageOperation.SetRetained(Message("p/2", "anonymous").KeptAsRetained(Noon, null, "anonymous-7")),
            StorageOperation.SetRetained(Message("p/3", "from the api").KeptAsRetained(Noon, null, null)),
            StorageOperation.SetRetained(Message("p/4", "from before")));
        await CommitAsync(StorageOperation.SetRetained(Message("p/2", "replaced").KeptAsRetained(later, "second-user", "second")));

        var retained = (await ReopenAsync()).Retained.OrderBy(m => m.Topic, StringComparer.Ordinal).ToList();

        (string, DateTimeOffset?, string?, string?)[] expected =
            [("p/1", Noon, "meter-7", "meter-user"), ("p/2", later, "second", "second-user"), ("p/3", Noon, null, null), ("p/4", null, null, null)];
        Assert.Equal(expected, retained.Select(static m => (m.Topic, m.StoredAt, m.PublisherId, m.PublisherUserName)));
        AssertMessage(Message("p/1", "from a client", expiresAt: Noon.AddDays(1)), retained[0]);
    }

    [Fact]
    public async Task Sessions_keep_expiry_disconnect_time_and_subscriptions_with_options()
    {
        var qos2 = new SubscriptionOptions(QualityOfService.ExactlyOnce, NoLocal: true, RetainAsPublished: true, RetainHandling.DoNotSend);
        await CommitAsync(
            StorageOperation.UpsertSession("device-1", 3600, Noon),
            StorageOperation.UpsertSession("device-2", uint.MaxValue, null),
            StorageOperation.AddSubscription("device-1", "sensors/+/temp", new SubscriptionOptions(QualityOfService.AtLeastOnce), 7),
            StorageOperation.AddSubscription("device-1", "commands/#", new SubscriptionOptions(QualityOfService.AtMostOnce), 0),
            StorageOperation.AddSubscription("device-1", "gone", new SubscriptionOptions(QualityOfService.AtMostOnce), 0),
            StorageOperation.AddSubscription("device-2", "$SYS/#", qos2, uint.MaxValue >> 4));
        await CommitAsync(
            StorageOperation.AddSubscription("device-1", "commands/#", qos2, 268_435_455),
            StorageOperation.RemoveSubscription("device-1", "gone"),
            StorageOperation.UpsertSession("device-1", 60, Noon.AddMinutes(1)));

        var state = await ReopenAsync();

        var sessions = state.Sessions.OrderBy(s => s.ClientId, StringComparer.Ordinal).ToList();
        Assert.Equal(["device-1", "device-2"], sessions.Select(s => s.ClientId));
        Assert.Equal(60u, sessions[0].ExpiryInterval);
        Assert.Equal(Noon.AddMinutes(1), sessions[0].DisconnectedAt);
        Assert.Equal(uint.MaxValue, sessions[1].ExpiryInterval);
        Assert.Null(sessions[1].DisconnectedAt);
        Assert.Equal(
            [
                new StoredSubscription("commands/#", qos2, 268_435_455),
                new StoredSubscription("sensors/+/temp", new SubscriptionOptions(QualityOfService.AtLeastOnce), 7),
            ],
            sessions[0].Subscriptions.OrderBy(s => s.TopicFilter, StringComparer.Ordinal));
        Assert.Equal([new StoredSubscription("$SYS/#", qos2, uint.MaxValue >> 4)], sessions[1].Subscriptions);
    }

    [Fact]
    public async Task Queued_messages_come_back_in_queue_order()
    {
        await CommitAsync(StorageOperation.UpsertSession("c", 100, Noon));
        // Written out of order and over several batches: the sequence, not the write order, is the queue order.
        var sequences = Enumerable.Range(1, 60).Select(i => (long)i * 1000).OrderBy(i => (i * 7919) % 61).ToList();
        foreach (var chunk in sequences.Chunk(7))
        {
            await CommitAsync(chunk.Select(s => StorageOperation.EnqueueMessage("c", s,
                Message("t/" + s, "payload " + s, QualityOfService.ExactlyOnce, retain: s % 2000 == 0), QualityOfService.AtLeastOnce, retain: s % 3000 == 0)).ToArray());
        }

        await CommitAsync(sequences.Where(s => s % 5000 == 0).Select(s => StorageOperation.RemoveQueuedMessage("c", s)).ToArray());

        var state = await ReopenAsync();

        var queued = Assert.Single(state.Sessions).Queued;
        var expected = sequences.Where(s => s % 5000 != 0).Order().ToList();
        Assert.Equal(expected, queued.Select(q => q.Sequence));
        foreach (var delivery in queued)
        {
            Assert.Equal(QualityOfService.AtLeastOnce, delivery.QualityOfService);
            Assert.Equal(delivery.Sequence % 3000 == 0, delivery.Retain);
            AssertMessage(Message("t/" + delivery.Sequence, "payload " + delivery.Sequence, QualityOfService.ExactlyOnce, retain: delivery.Sequence % 2000 == 0),
                delivery.Message);
        }
    }

    [Fact]
    public async Task Outgoing_inflight_messages_keep_packet_id_send_order_and_released_flag()
    {
        await CommitAsync(
            StorageOperation.UpsertSession("c", 100, null),
            StorageOperation.SetOutgoingInflight("c", 10, 3, Message("x/3", "3", QualityOfService.AtLeastOnce), QualityOfService.AtLeastOnce, false, false),
            StorageOperation.SetOutgoingInflight("c", 65535, 1, Message("x/1", "1", QualityOfService.ExactlyOnce), QualityOfService.ExactlyOnce, true, false),
            StorageOperation.SetOutgoingInflight("c", 7, 2, Message("x/2", "2", QualityOfService.ExactlyOnce, properties: [0x23, 0x00, 0x05]),
                QualityOfService.ExactlyOnce, false, false));
        await CommitAsync(
            StorageOperation.SetOutgoingInflight("c", 7, 2, Message("x/2", "2", QualityOfService.ExactlyOnce, properties: [0x23, 0x00, 0x05]),
                QualityOfService.ExactlyOnce, false, released: true),
            StorageOperation.RemoveOutgoingInflight("c", 10));

        var state = await ReopenAsync();

        var outgoing = Assert.Single(state.Sessions).Outgoing;
        Assert.Equal([(ushort)65535, (ushort)7], outgoing.Select(o => o.PacketId));
        Assert.Equal([1L, 2L], outgoing.Select(o => o.Sequence));
        Assert.Equal([false, true], outgoing.Select(o => o.Released));
        Assert.Equal([true, false], outgoing.Select(o => o.Retain));
        Assert.All(outgoing, o => Assert.Equal(QualityOfService.ExactlyOnce, o.QualityOfService));
        AssertMessage(Message("x/1", "1", QualityOfService.ExactlyOnce), outgoing[0].Message);
        AssertMessage(Message("x/2", "2", QualityOfService.ExactlyOnce, properties: [0x23, 0x00, 0x05]), outgoing[1].Message);
    }

    // What lets a message expire across a restart [MQTT-3.3.2-5] [MQTT-3.3.2-6]: each stored message keeps its expiry time, and a
    // message stored again with another (or none) replaces it; a will keeps its Message Expiry Interval.
    [Fact]
    public async Task Stored_messages_keep_their_expiry_time()
    {
        await CommitAsync(
            StorageOperation.UpsertSession("c", 100, null),
            StorageOperation.SetRetained(Message("r/1", "expires", expiresAt: Noon.AddSeconds(5))),
            StorageOperation.SetRetained(Message("r/2", "expired once", expiresAt: Noon)),
            StorageOperation.SetRetained(Message("r/3", "never")),
            StorageOperation.EnqueueMessage("c", 1, Message("q/1", "1", QualityOfService.AtLeastOnce, expiresAt: Noon.AddHours(1)), QualityOfService.AtLeastOnce, false),
            StorageOperation.EnqueueMessage("c", 2, Message("q/2", "2", QualityOfService.AtLeastOnce), QualityOfService.AtLeastOnce, false),
            StorageOperation.SetOutgoingInflight("c", 1, 0, Message("o/1", "1", QualityOfService.ExactlyOnce, expiresAt: Noon.AddDays(1)), QualityOfService.ExactlyOnce, false, false),
            StorageOperation.SetOutgoingInflight("c", 2, 0, Message("o/2", "2", QualityOfService.ExactlyOnce, expiresAt: Noon), QualityOfService.ExactlyOnce, false, false),
            StorageOperation.SetWill("w", Message("w/1", "will"), 60, Noon.AddSeconds(60), expiryInterval: 90),
            StorageOperation.SetWill("x", Message("x/1", "will"), 60, Noon.AddSeconds(60), expiryInterval: 0),
            StorageOperation.SetWill("y", Message("y/1", "will"), 60, Noon.AddSeconds(60), expiryInterval: null));
        await CommitAsync(
            StorageOperation.SetRetained(Message("r/2", "kept", expiresAt: null)),
            StorageOperation.SetOutgoingInflight("c", 2, 0, Message("o/2", "2", QualityOfService.ExactlyOnce, expiresAt: Noon.AddSeconds(1)), QualityOfService.ExactlyOnce, false, true));

        var state = await ReopenAsync();

        var retained = state.Retained.OrderBy(m => m.Topic, StringComparer.Ordinal).ToList();
        Assert.Equal([Noon.AddSeconds(5), null, null], retained.Select(m => m.ExpiresAtUtc));
        var session = Assert.Single(state.Sessions);
        Assert.Equal([Noon.AddHours(1), null], session.Queued.Select(q => q.Message.ExpiresAtUtc));
        Assert.Equal([Noon.AddDays(1), Noon.AddSeconds(1)], session.Outgoing.OrderBy(o => o.PacketId).Select(o => o.Message.ExpiresAtUtc));
        // A will keeps its interval instead: its expiry starts when it is published (5.0 §3.1.3.2.3).
        var wills = state.Wills.OrderBy(w => w.ClientId, StringComparer.Ordinal).ToList();
        Assert.Equal([90u, 0u, null], wills.Select(w => w.ExpiryInterval));
        Assert.All(wills, w => Assert.Null(w.Message.ExpiresAtUtc));
    }

    [Fact]
    public async Task Incoming_qos2_packet_ids_are_kept_until_removed()
    {
        await CommitAsync(
            StorageOperation.UpsertSession("c", 100, null),
            StorageOperation.AddIncomingQos2("c", 1),
            StorageOperation.AddIncomingQos2("c", 65535),
            StorageOperation.AddIncomingQos2("c", 300));
        await CommitAsync(StorageOperation.AddIncomingQos2("c", 300), StorageOperation.RemoveIncomingQos2("c", 1));

        var state = await ReopenAsync();

        Assert.Equal([(ushort)300, (ushort)65535], Assert.Single(state.Sessions).IncomingQos2);
    }

    [Fact]
    public async Task Pending_wills_are_stored_replaced_and_deleted()
    {
        await CommitAsync(
            StorageOperation.SetWill("a", Message("wills/a", "old"), 10, Noon, null),
            StorageOperation.SetWill("b", Message("wills/b", "b"), 20, Noon.AddSeconds(20), null));
        await CommitAsync(
            StorageOperation.SetWill("a", Message("wills/a", "gone offline", QualityOfService.AtLeastOnce, retain: true, properties: [0x01, 0x01]), 30, Noon.AddSeconds(30), null),
            StorageOperation.DeleteWill("b"));

        var state = await ReopenAsync();

        var will = Assert.Single(state.Wills);
        Assert.Equal("a", will.ClientId);
        Assert.Equal(30u, will.DelayInterval);
        Assert.Equal(Noon.AddSeconds(30), will.DueAt);
        AssertMessage(Message("wills/a", "gone offline", QualityOfService.AtLeastOnce, retain: true, properties: [0x01, 0x01]), will.Message);
    }

    [Fact]
    public async Task Deleting_a_session_deletes_its_state_but_not_its_will_nor_other_sessions()
    {
        await CommitAsync(
            StorageOperation.UpsertSession("doomed", 100, null),
            StorageOperation.UpsertSession("kept", 100, null),
            StorageOperation.SetWill("doomed", Message("w", "w"), 5, Noon, null));
        foreach (var clientId in new[] { "doomed", "kept" })
        {
            await CommitAsync(
                StorageOperation.AddSubscription(clientId, "t", new SubscriptionOptions(QualityOfService.AtLeastOnce), 1),
                StorageOperation.EnqueueMessage(clientId, 1, Message("t", "q"), QualityOfService.AtLeastOnce, false),
                StorageOperation.SetOutgoingInflight(clientId, 1, 0, Message("t", "i"), QualityOfService.AtLeastOnce, false, false),
                StorageOperation.AddIncomingQos2(clientId, 9));
        }

        await CommitAsync(StorageOperation.DeleteSession("doomed"));
        var state = await ReopenAsync();

        var kept = Assert.Single(state.Sessions);
        Assert.Equal("kept", kept.ClientId);
        Assert.Single(kept.Subscriptions);
        Assert.Single(kept.Queued);
        Assert.Single(kept.Outgoing);
        Assert.Single(kept.IncomingQos2);
        Assert.Equal("doomed", Assert.Single(state.Wills).ClientId);

        // A session created again under the same client id starts empty.
        await CommitAsync(StorageOperation.UpsertSession("doomed", 5, null));
        var again = (await ReopenAsync()).Sessions.Single(s => s.ClientId == "doomed");
        Assert.Empty(again.Subscriptions);
        Assert.Empty(again.Queued);
        Assert.Empty(again.Outgoing);
        Assert.Empty(again.IncomingQos2);
    }

    [Fact]
    public async Task State_of_an_unknown_session_is_ignored_and_the_rest_of_the_batch_applies()
    {
        await CommitAsync(
            StorageOperation.AddSubscription("nobody", "t", new SubscriptionOptions(QualityOfService.AtLeastOnce), 1),
            StorageOperation.EnqueueMessage("nobody", 1, Message("t", "q"), QualityOfService.AtLeastOnce, false),
            StorageOperation.SetOutgoingInflight("nobody", 1, 0, Message("t", "i"), QualityOfService.AtLeastOnce, false, false),
            StorageOperation.AddIncomingQos2("nobody", 9),
            StorageOperation.SetRetained(Message("r", "kept")));

        var state = await ReopenAsync();

        Assert.Empty(state.Sessions);
        Assert.Equal("r", Assert.Single(state.Retained).Topic);
    }

    [Fact]
    public async Task A_batch_applies_its_operations_in_order()
    {
        await CommitAsync(
            StorageOperation.UpsertSession("c", 1, null),
            StorageOperation.EnqueueMessage("c", 1, Message("t", "first"), QualityOfService.AtLeastOnce, false),
            StorageOperation.RemoveQueuedMessage("c", 1),
            StorageOperation.EnqueueMessage("c", 2, Message("t", "second"), QualityOfService.AtLeastOnce, false),
            StorageOperation.DeleteSession("c"),
            StorageOperation.UpsertSession("c", 2, null),
            StorageOperation.EnqueueMessage("c", 3, Message("t", "third"), QualityOfService.AtLeastOnce, false),
            StorageOperation.SetRetained(Message("r", "v1")),
            StorageOperation.DeleteRetained("r"),
            StorageOperation.SetRetained(Message("r", "v2")));

        var state = await ReopenAsync();

        var session = Assert.Single(state.Sessions);
        Assert.Equal(2u, session.ExpiryInterval);
        Assert.Equal([3L], session.Queued.Select(q => q.Sequence));
        AssertMessage(Message("r", "v2"), Assert.Single(state.Retained));
    }

    [Fact]
    public async Task Strict_writer_batches_concurrent_writes_and_completes_them_only_after_the_commit()
    {
        var pausing = new PausingStore(Store);
        var writer = new StorageWriter(pausing, StorageDurability.Strict);
        await using (writer)
        {
            var held = pausing.PauseNextCommit();
            var first = writer.WriteAsync(StorageOperation.UpsertSession("c", 100, null)).AsTask();
            await held.WaitAsync(Timeout);

            // While the first transaction is held, writes from many threads pile up in the next batch.
            var writes = await Task.WhenAll(Enumerable.Range(0, 4).Select(thread => Task.Run(() =>
                Enumerable.Range(0, 250).Select(i => writer.WriteAsync(
                    StorageOperation.EnqueueMessage("c", (thread * 250) + i, Message("t", "m" + ((thread * 250) + i)), QualityOfService.AtLeastOnce, false)).AsTask()).ToList())));
            var all = writes.SelectMany(w => w).Prepend(first).ToList();

            Assert.All(all, task => Assert.False(task.IsCompleted));
            Assert.Equal(0, writer.CommittedBatches);

            pausing.Release();
            await Task.WhenAll(all).WaitAsync(Timeout);

            Assert.Equal(1001, writer.CommittedOperations);
            Assert.InRange(writer.CommittedBatches, 2, 5);

            // Completed means committed: a reader of its own sees every write.
            var state = await LoadIndependentlyAsync();
            Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), Assert.Single(state.Sessions).Queued.Select(q => q.Sequence));
        }
    }

    [Fact]
    public async Task Strict_writes_of_a_failed_batch_fault_and_the_writer_goes_on()
    {
        var pausing = new PausingStore(Store);
        var writer = new StorageWriter(pausing, StorageDurability.Strict);
        await using (writer)
        {
            pausing.FailNextCommit(new IOException("No space left on device"));
            var failed = writer.WriteAsync(StorageOperation.SetRetained(Message("lost", "x"))).AsTask();

            var error = await Assert.ThrowsAsync<IOException>(() => failed.WaitAsync(Timeout));
            Assert.Equal("No space left on device", error.Message);
            Assert.Equal(1, writer.FailedBatches);
            Assert.Same(error, writer.LastFailure);

            await writer.WriteAsync(StorageOperation.SetRetained(Message("kept", "y"))).AsTask().WaitAsync(Timeout);
            Assert.Equal(["kept"], (await LoadIndependentlyAsync()).Retained.Select(m => m.Topic));
        }
    }

    [Fact]
    public async Task Relaxed_writer_completes_writes_at_once_and_commits_them_behind()
    {
        var pausing = new PausingStore(Store);
        var writer = new StorageWriter(pausing, StorageDurability.Relaxed);
        await using (writer)
        {
            var held = pausing.PauseNextCommit();
            var first = writer.WriteAsync(StorageOperation.SetRetained(Message("r/0", "0")));
            await held.WaitAsync(Timeout);
            var rest = Enumerable.Range(1, 99).Select(i => writer.WriteAsync(StorageOperation.SetRetained(Message("r/" + i, "x")))).ToList();

            Assert.True(first.IsCompletedSuccessfully);
            Assert.All(rest, write => Assert.True(write.IsCompletedSuccessfully));
            var flushed = writer.FlushAsync();
            Assert.False(flushed.IsCompleted);

            pausing.Release();
            await flushed.WaitAsync(Timeout);

            Assert.Equal(100, writer.CommittedOperations);
            Assert.Equal(100, (await LoadIndependentlyAsync()).Retained.Count);
        }
    }

    [Fact]
    public async Task Relaxed_writes_wait_for_their_batch_once_too_many_are_pending()
    {
        var pausing = new PausingStore(Store);
        var writer = new StorageWriter(pausing, StorageDurability.Relaxed, maxPendingOperations: 10);
        await using (writer)
        {
            var held = pausing.PauseNextCommit();
            var first = writer.WriteAsync(StorageOperation.SetRetained(Message("r/0", "0")));
            Assert.True(first.IsCompletedSuccessfully);
            await held.WaitAsync(Timeout);
            var writes = Enumerable.Range(1, 12).Select(i => writer.WriteAsync(StorageOperation.SetRetained(Message("r/" + i, "x"))).AsTask()).ToList();

            Assert.All(writes.Take(9), write => Assert.True(write.IsCompletedSuccessfully));
            Assert.All(writes.Skip(9), write => Assert.False(write.IsCompleted));

            pausing.Release();
            await Task.WhenAll(writes).WaitAsync(Timeout);
            Assert.Equal(13, (await LoadIndependentlyAsync()).Retained.Count);
        }
    }

    [Fact]
    public async Task Everything_written_survives_disposing_the_writer_and_reopening_the_store()
    {
        var writer = new StorageWriter(Store, StorageDurability.Relaxed);
        await writer.WriteAsync(StorageOperation.UpsertSession("c", 100, Noon));
        await writer.WriteAsync(StorageOperation.AddSubscription("c", "a/#", new SubscriptionOptions(QualityOfService.ExactlyOnce), 3));
        for (var i = 0; i < 200; i++)
        {
            await writer.WriteAsync(StorageOperation.EnqueueMessage("c", i, Message("a/" + i, "m"), QualityOfService.ExactlyOnce, false));
        }

        await writer.WriteAsync(StorageOperation.SetRetained(Message("a/r", "retained")));
        await writer.DisposeAsync();

        var state = await ReopenAsync();

        var session = Assert.Single(state.Sessions);
        Assert.Single(session.Subscriptions);
        Assert.Equal(200, session.Queued.Count);
        Assert.Single(state.Retained);
    }

    [Fact]
    public async Task A_forward_receipt_is_ignored_by_a_store_not_acting_for_a_cluster_node()
    {
        // Only the store the nodes of a cluster share, acting for the node that received the call, keeps receipts; here the batch's
        // other writes commit, replay and load as without it, also those of a session whose client id is the forwarding node's name.
        const string Sender = "10.0.0.1:11111";
        await CommitAsync(
            StorageOperation.UpsertSession(Sender, 60, Noon),
            StorageOperation.ForwardReceipt(Sender, "10.0.0.2:11111", 5, 3),
            StorageOperation.AddIncomingQos2(Sender, 4));

        var session = Assert.Single((await ReopenAsync()).Sessions);
        Assert.Equal([(ushort)4], session.IncomingQos2);
    }

    /// <summary>Disposes the store, opens it again and loads it.</summary>
    protected async Task<StoredState> ReopenAsync()
    {
        await Store.DisposeAsync();
        Store = await OpenAsync();
        return await Store.LoadAsync();
    }

    protected Task CommitAsync(params StorageOperation[] operations) => Store.CommitAsync(operations);

    protected static MqttMessage Message(string topic, string payload, QualityOfService qos = QualityOfService.AtMostOnce, bool retain = false, byte[]? properties = null,
        DateTimeOffset? expiresAt = null) =>
        MqttMessage.Restore(topic, System.Text.Encoding.UTF8.GetBytes(payload), qos, retain, properties, expiresAt);

    protected static void AssertMessage(MqttMessage expected, MqttMessage actual)
    {
        Assert.Equal(expected.Topic, actual.Topic);
        Assert.Equal(expected.QualityOfService, actual.QualityOfService);
        Assert.Equal(expected.Retain, actual.Retain);
        Assert.Equal(expected.Properties.ToArray(), actual.Properties.ToArray());
        Assert.Equal(expected.Payload.ToArray(), actual.Payload.ToArray());
        Assert.Equal(expected.ExpiresAtUtc, actual.ExpiresAtUtc);
        Assert.Equal(expected.TopicBytes.ToArray(), actual.TopicBytes.ToArray());
    }
}
