using IoTHub.Broker.Storage;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// A QoS 2 PUBLISH to a stored session goes out only once the commit that recorded its packet id completed (strict
/// durability): the sender stores the message before it sends the PUBLISH (MQTT 5.0 and 3.1.1 §4.3.3), and a resumed
/// session resends it with its original packet id [MQTT-4.4.0-1]. Sent before that commit, a crash left the message
/// queued without its id and the restarted broker sent it again under a new one, which the client may deliver as a
/// new message. The subscriber takes one message at a time (Receive Maximum 1), so the second message is given its
/// packet id exactly when the first flow ends, while the test holds or fails the store's commits.
/// </summary>
public sealed class Qos2InflightCommitTests : IAsyncLifetime
{
    /// <summary>
    /// How long a withheld PUBLISH is looked for: the engine writes a delivery within microseconds of the acknowledgement
    /// that made room for it when nothing holds it, so one that did not come in this window is being held.
    /// </summary>
    private static readonly TimeSpan HeldWindow = TimeSpan.FromMilliseconds(300);

    private readonly GatedStore _store = new();
    private StorageWriter? _writer;
    private MqttBroker? _broker;

    public async Task InitializeAsync()
    {
        _writer = new StorageWriter(_store, StorageDurability.Strict);
        _broker = new MqttBroker(new BrokerOptions());
        _broker.AttachStorage(_writer, await _store.LoadAsync());
        _broker.Start();
    }

    public async Task DisposeAsync()
    {
        _store.Fail = false;
        _store.Release();
        await _broker!.DisposeAsync();
        await _writer!.DisposeAsync();
        await _store.DisposeAsync();
    }

    [Fact]
    public async Task A_qos2_publish_to_a_stored_session_is_written_once_its_packet_id_is_committed()
    {
        await using var subscriber = await ConnectSubscriberAsync(QualityOfService.ExactlyOnce);
        var first = await QueueTwoAsync(subscriber, QualityOfService.ExactlyOnce);

        // The first flow ends; the second message takes its packet id in a commit that is held.
        await EndFirstFlowWithCommitsHeldAsync(subscriber, first.PacketId);

        // Before: written at once, with an id the store did not have (a crash now sent it again under another id).
        var next = subscriber.ExpectPublishAsync();
        Assert.NotSame(next, await Task.WhenAny(next, Task.Delay(HeldWindow)));

        _store.Release();
        var second = await next;
        Assert.Equal("two", second.PayloadText);
        Assert.Equal(QualityOfService.ExactlyOnce, second.QualityOfService);
        Assert.False(second.Duplicate);

        // [MQTT-4.4.0-1]: what a restarted broker would resend is this PUBLISH, under this id.
        var stored = await StoredSubscriberAsync();
        Assert.Contains(stored.Outgoing, inflight => inflight.PacketId == second.PacketId && !inflight.Released && Payload(inflight.Message) == "two");
        Assert.Empty(stored.Queued);
    }

    /// <summary>
    /// [MQTT-4.3.3-6]: once PUBREL went out the PUBLISH is never sent again. The PUBREL waits for the commit that stores the message as
    /// released: written before it, a crash (or a node's death) left the store saying "resend the PUBLISH", and the resumed session sent
    /// it again to a client that had already released the id, which then delivered it twice (the cluster's failover runs saw 8 such).
    /// </summary>
    [Fact]
    public async Task A_pubrel_to_a_stored_session_is_written_once_the_released_state_is_committed()
    {
        await using var subscriber = await ConnectSubscriberAsync(QualityOfService.ExactlyOnce);
        var first = await QueueTwoAsync(subscriber, QualityOfService.ExactlyOnce);

        _store.Hold();
        await subscriber.SendAsync(new AckPacket(PacketType.PubRec, first.PacketId));
        var pubRel = subscriber.ExpectAckAsync(PacketType.PubRel);
        Assert.NotSame(pubRel, await Task.WhenAny(pubRel, Task.Delay(HeldWindow)));

        _store.Release();
        Assert.Equal(first.PacketId, (await pubRel).PacketId);

        // What a resumed session would send now is the PUBREL, not the PUBLISH.
        var stored = await StoredSubscriberAsync();
        Assert.Contains(stored.Outgoing, inflight => inflight.PacketId == first.PacketId && inflight.Released);
    }

    [Fact]
    public async Task A_qos1_publish_to_a_stored_session_is_not_held_for_its_commit()
    {
        await using var subscriber = await ConnectSubscriberAsync(QualityOfService.AtLeastOnce);
        var first = await QueueTwoAsync(subscriber, QualityOfService.AtLeastOnce);

        _store.Hold();
        await subscriber.SendAsync(new AckPacket(PacketType.PubAck, first.PacketId));

        var second = await subscriber.ExpectPublishAsync();
        Assert.Equal("two", second.PayloadText);
        Assert.Equal(QualityOfService.AtLeastOnce, second.QualityOfService);
        Assert.False(_writer!.FlushAsync().IsCompleted, "the commit was still held when the QoS 1 PUBLISH was written");
    }

    [Fact]
    public async Task A_qos2_publish_whose_packet_id_was_not_committed_is_not_written_and_comes_once_with_the_stored_id()
    {
        var subscriber = await ConnectSubscriberAsync(QualityOfService.ExactlyOnce);
        var first = await QueueTwoAsync(subscriber, QualityOfService.ExactlyOnce);

        await subscriber.SendAsync(new AckPacket(PacketType.PubRec, first.PacketId));
        Assert.Equal(first.PacketId, (await subscriber.ExpectAckAsync(PacketType.PubRel)).PacketId);

        // The disk fills: the commit of the second message's packet id fails.
        _store.Fail = true;
        await subscriber.SendAsync(new AckPacket(PacketType.PubComp, first.PacketId));

        // Before: written with the id whose record was never stored, and the connection stayed open.
        var packets = await subscriber.DrainUntilClosedAsync();
        Assert.DoesNotContain(packets, p => p.Type == PacketType.Publish);
        Assert.Equal(ReasonCode.UnspecifiedError, Assert.IsType<DisconnectPacket>(Assert.Single(packets).Control).ReasonCode);
        await subscriber.DisposeAsync();

        _store.Fail = false;
        await using var again = await PipeClient.ConnectAsync(_broker!, "sub", MqttProtocolVersion.V500, cleanStart: false, properties: SubscriberProperties());
        Assert.True(again.LastConnAck!.SessionPresent);
        var second = await again.ExpectPublishAsync();
        Assert.Equal("two", second.PayloadText);

        // Never written before, so not a re-delivery: DUP 0 ([MQTT-3.3.1-1] sets it only for those).
        Assert.False(second.Duplicate);

        // It is sent under the id the store now has [MQTT-4.4.0-1], and no longer queued there without one.
        var stored = await StoredSubscriberAsync();
        Assert.Contains(stored.Outgoing, inflight => inflight.PacketId == second.PacketId && !inflight.Released && Payload(inflight.Message) == "two");
        Assert.DoesNotContain(stored.Queued, queued => Payload(queued.Message) == "two");

        // Once: the flow ends (§4.3.3) and nothing else comes.
        await again.SendAsync(new AckPacket(PacketType.PubRec, second.PacketId));
        Assert.Equal(second.PacketId, (await again.ExpectAckAsync(PacketType.PubRel)).PacketId);
        await again.SendAsync(new AckPacket(PacketType.PubComp, second.PacketId));
        var more = again.ReceiveAsync();
        Assert.NotSame(more, await Task.WhenAny(more, Task.Delay(HeldWindow)));
    }

    [Fact]
    public async Task A_connection_taking_the_session_over_while_the_commit_runs_waits_for_that_commit_too()
    {
        await using var subscriber = await ConnectSubscriberAsync(QualityOfService.ExactlyOnce);
        var first = await QueueTwoAsync(subscriber, QualityOfService.ExactlyOnce);

        await EndFirstFlowWithCommitsHeldAsync(subscriber, first.PacketId);
        await _store.Holding.WaitAsync(MqttTestClient.Timeout);
        await InFlightOnlyAsync();

        // The client comes back on another connection while the second message's packet id is being committed: the
        // resend of what is in flight [MQTT-4.4.0-1] waits for that commit as the first send did.
        await using var again = await PipeClient.ConnectAsync(_broker!, "sub", MqttProtocolVersion.V500, cleanStart: false, properties: SubscriberProperties());
        var next = again.ExpectPublishAsync();
        Assert.NotSame(next, await Task.WhenAny(next, Task.Delay(HeldWindow)));

        _store.Release();
        var second = await next;
        Assert.Equal("two", second.PayloadText);
        var stored = await StoredSubscriberAsync();
        Assert.Contains(stored.Outgoing, inflight => inflight.PacketId == second.PacketId && !inflight.Released && Payload(inflight.Message) == "two");
    }

    /// <summary>Waits until the subscriber's second message left the queue for the in-flight list (a bounded poll of the session's state).</summary>
    private async Task InFlightOnlyAsync()
    {
        var deadline = DateTime.UtcNow + MqttTestClient.Timeout;
        while (true)
        {
            var state = _broker!.FindSession("sub")!.Snapshot(TimeProvider.System, 0, DateTimeOffset.UtcNow);
            if (state.QueuedMessages == 0 && state.InflightMessages == 1)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "the second message never went in flight");
            await Task.Delay(5);
        }
    }

    private static MqttProperties SubscriberProperties() => new() { SessionExpiryInterval = 3600, ReceiveMaximum = 1 };

    private static string Payload(Messages.MqttMessage message) => System.Text.Encoding.UTF8.GetString(message.Payload.Span);

    /// <summary>Ends the first message's QoS 2 flow with the store's commits held: the second message then takes its packet id in a held commit.</summary>
    private async Task EndFirstFlowWithCommitsHeldAsync(MqttTestClient subscriber, ushort firstId)
    {
        // PUBREL waits for the commit of the released state [MQTT-4.3.3-6]: the commits are held only for the PUBCOMP, which gives the
        // second message its packet id.
        await subscriber.SendAsync(new AckPacket(PacketType.PubRec, firstId));
        Assert.Equal(firstId, (await subscriber.ExpectAckAsync(PacketType.PubRel)).PacketId);
        _store.Hold();
        await subscriber.SendAsync(new AckPacket(PacketType.PubComp, firstId));
    }

    private async Task<MqttTestClient> ConnectSubscriberAsync(QualityOfService qos)
    {
        var subscriber = await PipeClient.ConnectAsync(_broker!, "sub", MqttProtocolVersion.V500, cleanStart: false, properties: SubscriberProperties());
        await subscriber.SubscribeAsync("t", qos);
        return subscriber;
    }

    /// <summary>Publishes "one" and "two" to the subscriber, both stored; returns "one", the only one it may have in flight.</summary>
    private async Task<ReceivedPublish> QueueTwoAsync(MqttTestClient subscriber, QualityOfService qos)
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker!, "pub", MqttProtocolVersion.V500);
        var acknowledgement = qos == QualityOfService.ExactlyOnce ? PacketType.PubRec : PacketType.PubAck;
        await publisher.PublishAsync("t", "one", qos);
        await publisher.ExpectAckAsync(acknowledgement);
        await publisher.PublishAsync("t", "two", qos);
        await publisher.ExpectAckAsync(acknowledgement);

        var first = await subscriber.ExpectPublishAsync();
        Assert.Equal("one", first.PayloadText);
        await _writer!.FlushAsync();
        return first;
    }

    private async Task<StoredSession> StoredSubscriberAsync()
    {
        await _writer!.FlushAsync();
        var state = await _store.LoadAsync();
        return Assert.Single(state.Sessions, session => session.ClientId == "sub");
    }

    /// <summary>The memory store, whose commits can be held (all of them until released) or failed (while told to).</summary>
    private sealed class GatedStore : IBrokerStore
    {
        private readonly MemoryBrokerStore _inner = new();
        private TaskCompletionSource? _gate;
        private readonly TaskCompletionSource _holding = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile bool Fail;

        /// <summary>Completes once a commit waits at the gate.</summary>
        public Task Holding => _holding.Task;

        public void Hold() => Volatile.Write(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public void Release() => Interlocked.Exchange(ref _gate, null)?.TrySetResult();

        public Task<StoredState> LoadAsync(CancellationToken cancellationToken = default) => _inner.LoadAsync(cancellationToken);

        public async Task CommitAsync(ReadOnlyMemory<StorageOperation> batch, CancellationToken cancellationToken = default)
        {
            if (Volatile.Read(ref _gate) is { } gate)
            {
                _holding.TrySetResult();
                await gate.Task;
            }

            if (Fail)
            {
                throw new IOException("No space left on device");
            }

            await _inner.CommitAsync(batch, cancellationToken);
        }

        public ValueTask DisposeAsync() => _inner.DisposeAsync();
    }
}
