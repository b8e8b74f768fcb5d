using System.Diagnostics;
using System.Globalization;
using IoTHub.Mqtt;
using IoTHub.Testing;
using MQTTnet.Protocol;

namespace IoTHub.Web.Tests;

/// <summary>
/// Acknowledged forwarding (docs/clustering.md#acknowledged-forwarding) with three processes sharing one PostgreSQL store: the
/// PUBACK of a QoS 1 message published on one node and forwarded to another waits until that node accepted it (routed it and
/// committed it for its persistent sessions) [MQTT-4.3.2-4] (3.1.1 [MQTT-4.3.2-2]); when the node dies it is withheld and the
/// publisher's connection closed, so the publisher sends it again with DUP [MQTT-4.4.0-1].
/// </summary>
public sealed partial class ClusterTests
{
    /// <summary>
    /// How long a PUBACK is looked for while the destination is frozen: below Cluster:Routing:ForwardAckTimeout (5 s), at which it would
    /// be withheld anyway, and below the 2.2 s it takes to declare a frozen node dead, after which the node is no longer merely slow.
    /// </summary>
    private static readonly TimeSpan FrozenWindow = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task APubAckWaitsForAFrozenDestinationAndIsWithheldWhenItIsDeclaredDead()
    {
        var nodes = await StartClusterAsync(sharedStore: true);
        var ids = await IdsAsync(nodes);
        await using var onB = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "held-sub", cleanStart: false, SessionExpiry);
        await onB.SubscribeAsync("held/#", qos: MqttQualityOfServiceLevel.AtLeastOnce);
        await UntilFiltersAsync(nodes[0].Api, ids[1], 1);
        await using var publisher = await MqttTestClient.ConnectTcpAsync(nodes[0].Mqtt, "held-pub");
        await publisher.PublishAndWaitAsync("held/1", "warm");
        await onB.UntilAsync("warm");

        // B frozen: the PUBACK does not come (within the window), and comes once B is thawed and has taken the message.
        await _hosts[1].SuspendAsync();
        var id = await publisher.PublishAsync("held/1", "while-frozen", QualityOfService.AtLeastOnce);
        var ack = publisher.ExpectAckAsync(PacketType.PubAck);
        Assert.NotSame(ack, await Task.WhenAny(ack, Task.Delay(FrozenWindow)));
        _hosts[1].Resume();
        Assert.Equal(id, (await ack).PacketId);
        await onB.UntilAsync("while-frozen");

        // Frozen until declared dead: the PUBACK is withheld and the publisher's connection closed (event 1560 on A).
        await _hosts[1].SuspendAsync();
        var freezing = Stopwatch.StartNew();
        var lost = await publisher.PublishAsync("held/1", "when-dead", QualityOfService.AtLeastOnce);
        var packets = await publisher.DrainUntilClosedAsync();
        output.WriteLine($"frozen destination: the publisher's connection closed without PUBACK after {freezing.ElapsedMilliseconds} ms");
        Assert.DoesNotContain(packets, p => p.Type == PacketType.PubAck);
        await UntilDeadAsync(ids[1], nodes[0].Api, nodes[2].Api);
        await Poll.UntilAsync(async () => await ClusterCounterAsync(nodes[0].Api, "iothub_cluster_forward_not_accepted_total") == 1, DeathBound,
            "the withheld acknowledgement was not counted");
        Assert.Equal(0, await ClusterCounterAsync(nodes[0].Api, "iothub_cluster_forward_held"));
        _hosts[1].Resume();
        await _hosts[1].WaitForExitAsync();

        // The subscriber's session moves to C with what B committed; the publisher sends the message again with DUP, and C gets it.
        await using var onC = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "held-sub", cleanStart: false, SessionExpiry);
        Assert.True(onC.SessionPresent);
        await UntilFiltersAsync(nodes[0].Api, ids[2], 1);
        await using var again = await MqttTestClient.ConnectTcpAsync(nodes[0].Mqtt, "held-pub");
        await again.PublishAsync("held/1", "when-dead", QualityOfService.AtLeastOnce, packetId: lost, duplicate: true);
        Assert.Equal(lost, (await again.ExpectAckAsync(PacketType.PubAck)).PacketId);
        await onC.UntilAsync("when-dead");

        // B, thawed, may still have routed the forward that reached it to its connection before it stopped (exit 134): QoS 1 may come twice.
        Assert.Equal(["warm", "while-frozen"], onB.Payloads.Take(2));
    }

    [Fact]
    public async Task AKilledDestinationLosesNoMessageThePublisherWasAcknowledgedFor()
    {
        var nodes = await StartClusterAsync(sharedStore: true);
        var ids = await IdsAsync(nodes);

        // Subscribers on B (persistent: what B accepted is in the store) and C; distinct filters, so that C's count shows B's moving there.
        await using var onB = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "stream-b", cleanStart: false, SessionExpiry);
        await onB.SubscribeAsync("stream/+", qos: MqttQualityOfServiceLevel.AtLeastOnce);
        await using var onC = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "stream-c");
        await onC.SubscribeAsync("stream/#", qos: MqttQualityOfServiceLevel.AtLeastOnce);
        await UntilFiltersAsync(nodes[0].Api, ids[1], 1);
        await UntilFiltersAsync(nodes[0].Api, ids[2], 1);

        // A stream of QoS 1 messages from A, 20 in flight; B killed in the middle of it; no new message once it is killed.
        var acknowledged = new HashSet<string>(StringComparer.Ordinal);
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var publishing = PublishStreamAsync(nodes[0].Mqtt, "stream/1", acknowledged, stop.Task, resend: false);
        await Poll.UntilAsync(() => Task.FromResult(Count(acknowledged) >= 300 || publishing.IsCompleted), DeathBound, "the stream did not start");
        await _hosts[1].KillAsync();
        stop.SetResult();
        var closed = await publishing.WaitAsync(DeathBound) > 0;
        var total = Count(acknowledged);

        // Everything A acknowledged reaches C's subscriber.
        await Poll.UntilAsync(() => Task.FromResult(acknowledged.IsSubsetOf(onC.Payloads)), DeathBound,
            "acknowledged messages missing at C: " + string.Join(", ", acknowledged.Except(onC.Payloads).Take(20)));

        // And B's subscriber, moved to C, finds in its session every acknowledged message it had not received yet on B.
        await UntilDeadAsync(ids[1], nodes[0].Api, nodes[2].Api);
        await using var moved = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "stream-b", cleanStart: false, SessionExpiry);
        Assert.True(moved.SessionPresent);
        await UntilFiltersAsync(nodes[0].Api, ids[2], 2);

        // Until the adopter's word purges B's routes on A, a QoS 1 message matching them is refused there (no PUBACK, the connection
        // closed: docs/clustering.md#a-dead-nodes-routes); the client here took its session itself, so the purge may come later.
        await UntilFiltersAsync(nodes[0].Api, ids[1], null);
        await using (var marker = await MqttTestClient.ConnectTcpAsync(nodes[0].Mqtt, "stream-marker"))
        {
            await marker.PublishAndWaitAsync("stream/marker", "marker");
        }

        await moved.UntilAsync("marker");
        var atB = onB.Payloads.Concat(moved.Payloads).ToHashSet(StringComparer.Ordinal);
        var missing = acknowledged.Where(m => !atB.Contains(m)).ToList();
        output.WriteLine($"1 trial: {total} acknowledged, the publisher's connection {(closed ? "closed" : "not closed")} by the kill; " +
            $"B's subscriber got {onB.Received.Count} on B and {moved.Received.Count - 1} from its session on C, C's subscriber {onC.Received.Count}; missing at B {missing.Count}");
        Assert.True(missing.Count == 0, "acknowledged messages missing for B's subscriber: " + string.Join(", ", missing.Take(20)));
    }

    /// <summary>
    /// The stream goes on through the death of the subscriber's node (killed or frozen), its verdict, the adoption of its sessions and the
    /// subscriber's return to the adopter; the publisher connects again whenever its node closes the connection and sends again with DUP
    /// what was not acknowledged [MQTT-4.4.0-1]. Between the verdict and the adoption the session is in no node's memory: its node's
    /// routes are kept, refusing, so no message for it is acknowledged (docs/clustering.md#a-dead-nodes-routes). Every acknowledged message
    /// reaches the subscriber, on its old node or from its session on the adopter [MQTT-4.3.2-4] (QoS 1: twice is allowed). The client
    /// comes back once its session is adopted, and to the adopter: a session that moves between two live nodes, or that a client takes
    /// from the store while the adoption runs, has windows of its own (docs/clustering.md, "Where something can still be lost").
    /// </summary>
    [Theory]
    [InlineData("kill")]
    [InlineData("stop")]
    public async Task APersistentSubscriberOfADeadNodeGetsEveryMessageAcknowledgedWhileItsSessionMoved(string signal)
    {
        await using var run = await StreamThroughDeathAsync(signal, "moving-sub", "moving", MqttQualityOfServiceLevel.AtLeastOnce, QualityOfService.AtLeastOnce);
        var total = Count(run.Acknowledged);
        await Poll.UntilAsync(() => Task.FromResult(run.Acknowledged.IsSubsetOf(run.OnB.Payloads.Concat(run.Moved.Payloads))), DeathBound,
            "acknowledged messages missing for the moved subscriber: " + string.Join(", ", run.Acknowledged.Except(run.OnB.Payloads.Concat(run.Moved.Payloads)).Take(20)));
        output.WriteLine($"{signal}: declared dead after {run.DeadAfter} ms, the session adopted by node {run.Adopter} after {run.AdoptedAfter} ms; {total} acknowledged, the " +
            $"publisher's connection closed {run.Closes} times; the subscriber got {run.OnB.Received.Count} on B and {run.Moved.Received.Count} from its session on the adopter");
        await ThawedStopsAsync(signal);
    }

    /// <summary>
    /// A QoS 2 stream through the death of its subscriber's node (killed or frozen) and the adoption of the subscriber's session: exactly
    /// once. Never delivered twice [MQTT-4.3.3-10], though the publisher connects again and sends again with DUP whatever its node did
    /// not acknowledge, and a message no node took (refused while the dead node's sessions were not adopted, still queued for it at the
    /// verdict) is routed afresh when sent again. Nothing acknowledged lost [MQTT-4.3.3-9]: a call
    /// that failed while it was out to the dying node is in doubt until the node is declared dead, and then its receipt in the shared
    /// store tells whether the node committed it (then the adopter delivers it) or not (then it is routed afresh when sent again):
    /// docs/clustering.md#forward-receipts.
    /// </summary>
    [Theory]
    [InlineData("kill")]
    [InlineData("stop")]
    public async Task AQos2StreamThroughTheDeathOfItsSubscribersNodeIsDeliveredExactlyOnce(string signal)
    {
        await using var run = await StreamThroughDeathAsync(signal, "exact-sub", "exact", MqttQualityOfServiceLevel.ExactlyOnce, QualityOfService.ExactlyOnce);

        // Everything acknowledged after the move arrives (nothing is out to a dying node then); once it has, the session holds nothing
        // more that could still come, so the count of each payload is final.
        string[] late;
        lock (run.Acknowledged)
        {
            late = [.. run.Acknowledged.Where(m => int.Parse(m.AsSpan(2), CultureInfo.InvariantCulture) >= run.AtMove + 20)];
        }

        await Poll.UntilAsync(() => Task.FromResult(late.All(run.Moved.Payloads.Contains)), DeathBound,
            "messages acknowledged after the move missing: " + string.Join(", ", late.Except(run.Moved.Payloads).Take(20)));
        await Poll.UntilAsync(() => Task.FromResult(run.Acknowledged.IsSubsetOf(run.OnB.Payloads.Concat(run.Moved.Payloads))), DeathBound,
            "acknowledged messages missing for the moved subscriber: " + string.Join(", ", run.Acknowledged.Except(run.OnB.Payloads.Concat(run.Moved.Payloads)).Take(20)));

        // A delivery sent again with DUP under its unreleased packet id (its PUBREL had not come when the session moved) is the same
        // delivery [MQTT-4.3.3-10]; a second one without DUP is a message delivered twice.
        var twice = run.OnB.Received.Concat(run.Moved.Received).Where(m => !m.Duplicate).GroupBy(m => m.Payload, StringComparer.Ordinal)
            .Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        output.WriteLine($"{signal}: {Count(run.Acknowledged)} acknowledged, the publisher's connection closed {run.Closes} times; the subscriber got " +
            $"{run.OnB.Received.Count} on B and {run.Moved.Received.Count} from its session on node {run.Adopter}");
        if (twice.Count > 0)
        {
            // Why: what the nodes' cross-node routing said (calls that failed, their doubts resolved, purges).
            foreach (var (host, index) in _hosts.Select((host, index) => (host, index)))
            {
                var routing = host.Output.Split('\n').Where(l => l.Contains("Cluster routing", StringComparison.Ordinal) || l.Contains("Cluster sessions", StringComparison.Ordinal));
                output.WriteLine($"node {index}:\n{string.Join('\n', routing)}");
            }
        }

        Assert.True(twice.Count == 0, "delivered twice: " + string.Join(", ", twice.Take(20).Select(p => $"{p} ({Copies(p)})")));
        await ThawedStopsAsync(signal);

        // Where each copy came: the connection, its place among that connection's messages, and whether it had DUP.
        string Copies(string payload) => string.Join("; ", run.OnB.Received.Select((m, i) => (m, i, at: "B")).Concat(run.Moved.Received.Select((m, i) => (m, i, at: "adopter")))
            .Where(x => x.m.Payload == payload).Select(x => $"{x.at} #{x.i}{(x.m.Duplicate ? " DUP" : "")}"));
    }

    /// <summary>What a stream through the death of its subscriber's node left: both of the subscriber's connections, and the counts.</summary>
    private sealed record StreamThroughDeath(ClusterClient OnB, ClusterClient Moved, HashSet<string> Acknowledged, int AtMove, int Closes, int Adopter,
        long DeadAfter, long AdoptedAfter) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Moved.DisposeAsync();
            await OnB.DisposeAsync();
        }
    }

    /// <summary>
    /// A persistent subscriber of <c>{prefix}/+</c> on B and a stream from A to <c>{prefix}/1</c> that goes on through B's death
    /// (<paramref name="signal"/>: kill or stop), its verdict and the adoption of the subscriber's session, the subscriber then back on
    /// the adopter; returns once 200 more messages were acknowledged after that and the stream ended.
    /// </summary>
    private async Task<StreamThroughDeath> StreamThroughDeathAsync(string signal, string clientId, string prefix, MqttQualityOfServiceLevel subscription,
        QualityOfService publish)
    {
        var nodes = await StartClusterAsync(sharedStore: true);
        var ids = await IdsAsync(nodes);
        var onB = await ClusterClient.ConnectAsync(nodes[1].Mqtt, clientId, cleanStart: false, SessionExpiry);
        ClusterClient? moved = null;
        try
        {
            await onB.SubscribeAsync(prefix + "/+", qos: subscription);
            await UntilFiltersAsync(nodes[0].Api, ids[1], 1);

            var acknowledged = new HashSet<string>(StringComparer.Ordinal);
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var publishing = PublishStreamAsync(nodes[0].Mqtt, prefix + "/1", acknowledged, stop.Task, resend: true, publish);
            await Poll.UntilAsync(() => Task.FromResult(Count(acknowledged) >= 300 || publishing.IsCompleted), DeathBound, "the stream did not start");
            var failed = Stopwatch.StartNew();
            if (signal == "kill")
            {
                await _hosts[1].KillAsync();
            }
            else
            {
                await _hosts[1].SuspendAsync();
            }

            await UntilDeadAsync(ids[1], nodes[0].Api, nodes[2].Api);
            var dead = failed.ElapsedMilliseconds;
            var adopter = await AdopterAsync(nodes, clientId);
            var adopted = failed.ElapsedMilliseconds;
            moved = await ClusterClient.ConnectAsync(nodes[adopter].Mqtt, clientId, cleanStart: false, SessionExpiry);
            Assert.True(moved.SessionPresent);

            // The stream reaches the session on its new node: a message acknowledged after the move arrives there.
            var atMove = Count(acknowledged);
            await Poll.UntilAsync(() => Task.FromResult(Count(acknowledged) >= atMove + 200 || publishing.IsCompleted), DeathBound, "the stream stopped after the move");
            stop.SetResult();
            var closes = await publishing.WaitAsync(DeathBound);
            return new StreamThroughDeath(onB, moved, acknowledged, atMove, closes, adopter, dead, adopted);
        }
        catch
        {
            if (moved is not null)
            {
                await moved.DisposeAsync();
            }

            await onB.DisposeAsync();
            throw;
        }
    }

    /// <summary>After a stop: the frozen node, thawed, finds itself dead and stops (Orleans ends it, exit code 134).</summary>
    private async Task ThawedStopsAsync(string signal)
    {
        if (signal == "stop")
        {
            _hosts[1].Resume();
            Assert.Equal(134, await _hosts[1].WaitForExitAsync());
        }
    }

    private static int Count(HashSet<string> acknowledged)
    {
        lock (acknowledged)
        {
            return acknowledged.Count;
        }
    }

    /// <summary>
    /// Publishes numbered messages at <paramref name="qos"/> (1 or 2) to <paramref name="topic"/> with 20 in flight, recording each
    /// acknowledged one (PUBACK, or PUBREC, which ends the publisher's part of a QoS 2 message [MQTT-4.3.3-9]), until
    /// <paramref name="stop"/> and then until nothing is in flight. A connection the broker closes ends it, what was not acknowledged
    /// required nowhere; unless <paramref name="resend"/>: then it connects again and sends that again with DUP [MQTT-4.4.0-1], and the
    /// PUBREL of each QoS 2 message whose PUBCOMP did not come yet. Returns how many connections the broker closed.
    /// </summary>
    private static async Task<int> PublishStreamAsync(System.Net.IPEndPoint node, string topic, HashSet<string> acknowledged, Task stop, bool resend,
        QualityOfService qos = QualityOfService.AtLeastOnce)
    {
        var inFlight = new Dictionary<ushort, string>();
        var released = new HashSet<ushort>();
        var next = 0;
        ushort lastId = 0;
        var closes = 0;
        while (true)
        {
            await using var client = await MqttTestClient.ConnectTcpAsync(node, "stream-pub");
            try
            {
                foreach (var (id, payload) in inFlight)
                {
                    await client.PublishAsync(topic, payload, qos, packetId: id, duplicate: true);
                }

                foreach (var id in released)
                {
                    await client.SendAsync(new AckPacket(PacketType.PubRel, id));
                }

                while (true)
                {
                    while (!stop.IsCompleted && inFlight.Count + released.Count < 20)
                    {
                        // Packet ids of this stream's own, so that none in flight is reused on a new connection.
                        do
                        {
                            lastId = (ushort)(lastId == ushort.MaxValue ? 1 : lastId + 1);
                        }
                        while (inFlight.ContainsKey(lastId) || released.Contains(lastId));

                        var payload = "s-" + (next++).ToString(CultureInfo.InvariantCulture);
                        inFlight[await client.PublishAsync(topic, payload, qos, packetId: lastId)] = payload;
                    }

                    if (inFlight.Count == 0 && released.Count == 0)
                    {
                        return closes;
                    }

                    var ack = (await client.ReceiveAsync()).Ack;
                    if (ack.Type == PacketType.PubComp)
                    {
                        released.Remove(ack.PacketId);
                        continue;
                    }

                    Assert.Equal(qos == QualityOfService.AtLeastOnce ? PacketType.PubAck : PacketType.PubRec, ack.Type);
                    if (inFlight.Remove(ack.PacketId, out var acked))
                    {
                        lock (acknowledged)
                        {
                            acknowledged.Add(acked);
                        }
                    }

                    if (ack.Type == PacketType.PubRec)
                    {
                        released.Add(ack.PacketId);
                        await client.SendAsync(new AckPacket(PacketType.PubRel, ack.PacketId));
                    }
                }
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or Xunit.Sdk.XunitException)
            {
                closes++;
                if (!resend)
                {
                    return closes;
                }
            }
        }
    }
}
