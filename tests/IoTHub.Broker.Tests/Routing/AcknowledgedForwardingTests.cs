using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// The engine's side of acknowledged forwarding (docs/clustering.md#acknowledged-forwarding), over in-memory pipes: the PUBACK/PUBREC
/// of a message the cluster forwarded waits for the other nodes' acceptance ([MQTT-4.3.2-4], [MQTT-4.3.3-9]); when they do not accept
/// it the acknowledgement is withheld and the connection closed, and a QoS 2 packet id stays received so the resend is not routed
/// again [MQTT-4.3.3-10].
/// </summary>
public sealed class AcknowledgedForwardingTests : IAsyncLifetime
{
    private readonly HoldingRemote _remote = new();
    private readonly MqttBroker _broker = new(new BrokerOptions());
    /// <summary>
    /// How long a withheld PUBACK is looked for: the engine writes an acknowledgement within microseconds of the PUBLISH when nothing
    /// holds it, so one that did not come in this window is being held.
    /// </summary>
    private static readonly TimeSpan HeldWindow = TimeSpan.FromMilliseconds(300);

    public Task InitializeAsync()
    {
        _broker.AttachRemoteRoutes(_remote);
        _broker.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task A_forwarded_qos1_publish_is_acknowledged_once_the_other_nodes_accepted_it()
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500);

        var id = await publisher.PublishAsync("t", "x", QualityOfService.AtLeastOnce);
        var ack = publisher.ExpectAckAsync(PacketType.PubAck);
        Assert.NotSame(ack, await Task.WhenAny(ack, Task.Delay(HeldWindow)));

        _remote.Accepted.SetResult();
        var pubAck = await ack;
        Assert.Equal(id, pubAck.PacketId);
        Assert.Equal(ReasonCode.Success, pubAck.ReasonCode);
    }

    [Fact]
    public async Task A_forward_the_other_nodes_did_not_accept_is_never_acknowledged()
    {
        await using var publisher = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500);

        await publisher.PublishAsync("t", "x", QualityOfService.AtLeastOnce);
        _remote.Accepted.SetException(new ForwardNotAcceptedException("node b died"));

        var packets = await publisher.DrainUntilClosedAsync();
        Assert.DoesNotContain(packets, p => p.Type == PacketType.PubAck);
        Assert.Equal(ReasonCode.UnspecifiedError, Assert.IsType<DisconnectPacket>(Assert.Single(packets).Control).ReasonCode);
        Assert.Equal(1, _broker.Statistics.ConnectionsClosed(ConnectionCloseReason.ForwardNotAccepted));
        Assert.Equal(0, _broker.Statistics.ConnectionsClosed(ConnectionCloseReason.StorageError));
    }

    // Whether or not a session here got it: the node whose call failed may have taken it.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_qos2_publish_not_accepted_keeps_its_packet_id_so_the_resend_is_not_routed_twice(bool localSubscriber)
    {
        await using var local = await PipeClient.ConnectAsync(_broker, "local");
        await local.SubscribeAsync(localSubscriber ? "t" : "elsewhere", QualityOfService.ExactlyOnce);

        var sessionExpiry = new MqttProperties { SessionExpiryInterval = 300 };
        await using (var first = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500, cleanStart: false, properties: sessionExpiry))
        {
            await first.PublishAsync("t", "once", QualityOfService.ExactlyOnce, packetId: 7);
            _remote.Accepted.SetException(new ForwardNotAcceptedException("node b did not answer"));
            Assert.DoesNotContain(await first.DrainUntilClosedAsync(), p => p.Type == PacketType.PubRec);
        }

        if (localSubscriber)
        {
            Assert.Equal("once", (await local.ExpectPublishAsync()).PayloadText);
        }

        // Sent again with DUP [MQTT-4.4.0-1]: answered as a duplicate, not routed again (routing forwards before it acknowledges).
        await using var again = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500, cleanStart: false, properties: sessionExpiry);
        await again.PublishAsync("t", "once", QualityOfService.ExactlyOnce, packetId: 7, duplicate: true);
        Assert.Equal(7, (await again.ExpectAckAsync(PacketType.PubRec)).PacketId);
        Assert.Equal(1, _remote.Forwarded(QualityOfService.ExactlyOnce));
    }

    // A QoS 2 message no node it was for took went nowhere when no session here matched it: its packet id is forgotten and the resend
    // is routed afresh, to the node that has the sessions by then. With a session here that got it, the id is kept [MQTT-4.3.3-10].
    // Not taken: refused at once (a moving session's routes), refused later (a dead node's, held until its sessions are adopted,
    // docs/clustering.md#a-dead-nodes-routes), queued for a node and never sent (it was declared dead first), or in a call the dead node
    // never committed (docs/clustering.md#forward-receipts).
    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(true, true, false)]
    [InlineData(false, true, true)]
    [InlineData(true, true, true)]
    public async Task A_qos2_publish_no_node_took_is_routed_afresh_when_sent_again(bool localSubscriber, bool held, bool queued)
    {
        await using var local = await PipeClient.ConnectAsync(_broker, "local");
        await local.SubscribeAsync(localSubscriber ? "t" : "elsewhere", QualityOfService.ExactlyOnce);
        var refusal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!held)
        {
            refusal.SetException(new ForwardNotAcceptedException("node b is dead and its sessions were not adopted yet", notTaken: true));
        }

        _remote.RefuseNext = refusal.Task;
        _remote.RefusedQueued = queued;

        var sessionExpiry = new MqttProperties { SessionExpiryInterval = 300 };
        await using (var first = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500, cleanStart: false, properties: sessionExpiry))
        {
            await first.PublishAsync("t", "once", QualityOfService.ExactlyOnce, packetId: 7);
            var drained = first.DrainUntilClosedAsync();
            if (held)
            {
                // Held: neither a PUBREC nor a close while the refusal waits.
                Assert.NotSame(drained, await Task.WhenAny(drained, Task.Delay(HeldWindow)));
                refusal.SetException(new ForwardNotAcceptedException(queued ? "node b was declared dead before it took the message" : "node b is dead and its sessions were not adopted yet", notTaken: true));
            }

            Assert.DoesNotContain(await drained, p => p.Type == PacketType.PubRec);
        }

        _remote.Accepted.SetResult();
        await using var again = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500, cleanStart: false, properties: sessionExpiry);
        await again.PublishAsync("t", "once", QualityOfService.ExactlyOnce, packetId: 7, duplicate: true);
        Assert.Equal(7, (await again.ExpectAckAsync(PacketType.PubRec)).PacketId);
        Assert.Equal(localSubscriber ? 1 : 2, _remote.Forwarded(QualityOfService.ExactlyOnce));
        if (localSubscriber)
        {
            Assert.Equal("once", (await local.ExpectPublishAsync()).PayloadText);
        }
    }

    // The connection closes because one acknowledgement failed while the PUBREC of another QoS 2 PUBLISH still waits (its refusal held,
    // as a dead node's routes hold it until the adoption). The resend of that PUBLISH must not be answered at once as a duplicate: its
    // first copy may yet be refused, and then nobody has it. Its PUBREC waits for the same outcome; refused as not taken, the id is
    // forgotten with the next close and the next resend is routed afresh [MQTT-4.3.3-10]. (The failover runs lost up to 28 QoS 2
    // messages per run this way.)
    [Fact]
    public async Task A_qos2_publish_whose_acknowledgement_still_waits_when_its_connection_closes_is_not_answered_as_a_duplicate_meanwhile()
    {
        await using var local = await PipeClient.ConnectAsync(_broker, "local");
        await local.SubscribeAsync("elsewhere", QualityOfService.ExactlyOnce);
        var sessionExpiry = new MqttProperties { SessionExpiryInterval = 300 };
        var refusal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (var first = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500, cleanStart: false, properties: sessionExpiry))
        {
            await first.PublishAsync("t", "uncertain", QualityOfService.ExactlyOnce, packetId: 7);
            await Poll.UntilAsync(() => _remote.Forwarded(QualityOfService.ExactlyOnce) == 1, MqttTestClient.Timeout);
            _remote.RefuseNext = refusal.Task;
            _remote.RefusedQueued = true;
            await first.PublishAsync("t", "held", QualityOfService.ExactlyOnce, packetId: 8);
            await Poll.UntilAsync(() => _remote.Forwarded(QualityOfService.ExactlyOnce) == 2, MqttTestClient.Timeout);
            _remote.Accepted.SetException(new ForwardNotAcceptedException("node b did not answer"));
            Assert.DoesNotContain(await first.DrainUntilClosedAsync(), p => p.Type == PacketType.PubRec);
        }

        await using (var second = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500, cleanStart: false, properties: sessionExpiry))
        {
            // The one that may have reached node b: answered as a duplicate (at most once).
            await second.PublishAsync("t", "uncertain", QualityOfService.ExactlyOnce, packetId: 7, duplicate: true);
            Assert.Equal(7, (await second.ExpectAckAsync(PacketType.PubRec)).PacketId);

            // The held one: no PUBREC while its refusal waits; refused, the connection closes without one.
            await second.PublishAsync("t", "held", QualityOfService.ExactlyOnce, packetId: 8, duplicate: true);
            var drained = second.DrainUntilClosedAsync();
            Assert.NotSame(drained, await Task.WhenAny(drained, Task.Delay(HeldWindow)));
            refusal.SetException(new ForwardNotAcceptedException("node b was declared dead before it took the message", notTaken: true));
            Assert.DoesNotContain(await drained, p => p.Type == PacketType.PubRec);
        }

        _remote.Accepted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _remote.Accepted.SetResult();
        await using var third = await PipeClient.ConnectAsync(_broker, "pub", MqttProtocolVersion.V500, cleanStart: false, properties: sessionExpiry);
        await third.PublishAsync("t", "held", QualityOfService.ExactlyOnce, packetId: 8, duplicate: true);
        Assert.Equal(8, (await third.ExpectAckAsync(PacketType.PubRec)).PacketId);
        Assert.Equal(3, _remote.Forwarded(QualityOfService.ExactlyOnce));
    }

    /// <summary>
    /// Other nodes that take every message and accept QoS 1 and 2 ones when the test says so; or, once, refuse one at once as the routes
    /// of a dead node not adopted yet do.
    /// </summary>
    private sealed class HoldingRemote : IRemoteRoutes
    {
        private readonly Lock _lock = new();
        private readonly List<QualityOfService> _forwarded = [];

        public TaskCompletionSource Accepted { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Set: the next QoS 1 or 2 message is queued for no node (or, with <see cref="RefusedQueued"/>, for one), and its acknowledgement waits for this refusal.</summary>
        public Task? RefuseNext { get; set; }

        /// <summary>The message <see cref="RefuseNext"/> refuses is queued for a node first, as one that node never got.</summary>
        public bool RefusedQueued { get; set; }

        public int Forwarded(QualityOfService qos)
        {
            lock (_lock)
            {
                return _forwarded.Count(q => q == qos);
            }
        }

        public int Forward(MqttMessage message, LocalShares shares, out Task? accepted)
        {
            lock (_lock)
            {
                _forwarded.Add(message.QualityOfService);
            }

            if (RefuseNext is { } refusal && message.QualityOfService != QualityOfService.AtMostOnce)
            {
                RefuseNext = null;
                accepted = refusal;
                return RefusedQueued ? 1 : 0;
            }

            accepted = message.QualityOfService == QualityOfService.AtMostOnce ? null : Accepted.Task;
            return 1;
        }

        public void LocalFilterChanged(string filter, bool subscribed)
        {
        }

        public void BeginBatch()
        {
        }

        public void EndBatch()
        {
        }

        public void ShareRetained(MqttMessage message)
        {
        }
    }
}
