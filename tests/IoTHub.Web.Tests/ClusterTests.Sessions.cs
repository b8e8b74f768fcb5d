using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IoTHub.Web.Tests;

/// <summary>
/// One owner per client id across the cluster, with the three nodes sharing one PostgreSQL store: a persistent session moves to the node
/// its client connects to, offline or online (the old connection gets DISCONNECT 0x8E), with its queue, in-flight messages and
/// subscriptions; a clean start elsewhere ends it; a restarted node does not load what another node owns now.
/// </summary>
public sealed partial class ClusterTests
{
    private const uint SessionExpiry = 300;

    [Fact]
    public async Task AnOfflineSessionFollowsItsClientToAnotherNodeWithItsQueueInOrder()
    {
        var nodes = await StartClusterAsync(sharedStore: true);
        var ids = await IdsAsync(nodes);

        // A persistent MQTT 5 session on node 1 (clean start 0, expiry > 0), subscribed at QoS 1, goes offline.
        await using (var first = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "roamer", cleanStart: false, SessionExpiry))
        {
            Assert.False(first.SessionPresent);
            await first.SubscribeAsync("fleet/roamer/#", qos: MqttQualityOfServiceLevel.AtLeastOnce);
        }

        // Published on node 2, queued on node 1 for the offline session.
        await UntilFiltersAsync(nodes[1].Api, ids[0], 1);
        await using var publisher = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "roamer-publisher");
        string[] queued = ["q1", "q2", "q3", "q4", "q5"];
        foreach (var payload in queued)
        {
            await publisher.PublishAsync("fleet/roamer/pos", payload, MqttQualityOfServiceLevel.AtLeastOnce);
        }

        await Poll.UntilAsync(async () => await QueuedAsync(nodes[0].Api, "roamer") == queued.Length, DeathBound, "node 1 did not queue the messages");

        // On node 3: the session is present [MQTT-3.2.2-3], each queued message arrives once and in order [MQTT-4.6.0-6].
        var moving = Stopwatch.StartNew();
        await using var moved = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "roamer", cleanStart: false, SessionExpiry);
        output.WriteLine($"offline session taken over from node 1 by node 3: CONNACK after {moving.ElapsedMilliseconds} ms");
        Assert.True(moved.SessionPresent);
        await moved.UntilAsync("q5");
        Assert.Equal(queued, moved.Payloads);

        // It lives on node 3 only now, and its subscription goes on working there.
        Assert.Null(await QueuedAsync(nodes[0].Api, "roamer"));
        await UntilFiltersAsync(nodes[1].Api, ids[2], 1);
        await publisher.PublishAsync("fleet/roamer/pos", "after-move", MqttQualityOfServiceLevel.AtLeastOnce);
        await moved.UntilAsync("after-move");
        Assert.Equal([.. queued, "after-move"], moved.Payloads);
    }

    [Fact]
    public async Task AConnectOnAnotherNodeTakesTheSessionOverFromTheLiveConnectionWithItsMessagesInFlight()
    {
        var nodes = await StartClusterAsync(sharedStore: true);

        // Connected on node 1; a QoS 1 message it never acknowledges stays in flight.
        var old = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "hopper", cleanStart: false, SessionExpiry, acknowledge: false);
        await using var _ = old;
        await old.SubscribeAsync("hop/#", qos: MqttQualityOfServiceLevel.AtLeastOnce);
        await using var publisher = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "hopper-publisher");
        await publisher.PublishAsync("hop/1", "in-flight", MqttQualityOfServiceLevel.AtLeastOnce);
        await old.UntilAsync("in-flight");

        // The same client id on node 2: the old connection gets DISCONNECT 0x8E (5.0 §3.14.2.1, [MQTT-3.1.4-3]), the new one the session.
        var taking = Stopwatch.StartNew();
        await using var taken = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "hopper", cleanStart: false, SessionExpiry);
        output.WriteLine($"online session taken over from node 1 by node 2: CONNACK after {taking.ElapsedMilliseconds} ms");
        Assert.Equal(MqttClientDisconnectReason.SessionTakenOver, await old.Disconnected.WaitAsync(MqttTestClient.Timeout));
        Assert.True(taken.SessionPresent);

        // The unacknowledged message is sent again, with DUP, on the new connection [MQTT-4.4.0-1], [MQTT-3.3.1-1].
        await taken.UntilAsync("in-flight");
        var again = Assert.Single(taken.Received);
        Assert.True(again.Duplicate);
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, again.QualityOfServiceLevel);

        // Its subscription goes on from node 2: a message published on node 1 reaches it there.
        await UntilFiltersAsync(nodes[0].Api, (await IdsAsync(nodes))[1], 1);
        await publisher.PublishAsync("hop/2", "after-takeover", MqttQualityOfServiceLevel.AtLeastOnce);
        await taken.UntilAsync("after-takeover");
        Assert.Equal(["in-flight", "after-takeover"], taken.Payloads);
        Assert.Null(await QueuedAsync(nodes[0].Api, "hopper"));
    }

    [Fact]
    public async Task ACleanStartOnAnotherNodeEndsTheSessionAndItsMessagesAreNotDelivered()
    {
        var nodes = await StartClusterAsync(sharedStore: true);
        var ids = await IdsAsync(nodes);
        await using (var first = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "fresh", cleanStart: false, SessionExpiry))
        {
            await first.SubscribeAsync("fresh/#", qos: MqttQualityOfServiceLevel.AtLeastOnce);
        }

        await UntilFiltersAsync(nodes[1].Api, ids[0], 1);
        await using var publisher = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "fresh-publisher");
        await publisher.PublishAsync("fresh/1", "old-session", MqttQualityOfServiceLevel.AtLeastOnce);
        await Poll.UntilAsync(async () => await QueuedAsync(nodes[0].Api, "fresh") == 1, DeathBound, "node 1 did not queue the message");

        // A 3.1.1 client with Clean Session 1 on node 3: no session present [MQTT-3.2.2-1], the old one discarded [MQTT-3.1.2-6].
        await using var fresh = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "fresh", cleanStart: true, version: MqttProtocolVersion.V311);
        Assert.False(fresh.SessionPresent);
        Assert.Null(await QueuedAsync(nodes[0].Api, "fresh"));

        // Its own subscription gets what is published now, and nothing of the old session came before it.
        await fresh.SubscribeAsync("fresh/#", qos: MqttQualityOfServiceLevel.AtLeastOnce);
        await UntilFiltersAsync(nodes[1].Api, ids[2], 1);
        await publisher.PublishAsync("fresh/1", "new-session", MqttQualityOfServiceLevel.AtLeastOnce);
        await fresh.UntilAsync("new-session");
        Assert.Equal(["new-session"], fresh.Payloads);
    }

    [Fact]
    public async Task ARestartedNodeLoadsNoneOfTheSessionsOtherNodesTookOverAndItsClientsFindThemThere()
    {
        var nodes = await StartClusterAsync(sharedStore: true);

        // Two persistent sessions on node 1; one of them moves to node 2 and goes offline there.
        foreach (var clientId in new[] { "stayer", "leaver" })
        {
            await using var client = await ClusterClient.ConnectAsync(nodes[0].Mqtt, clientId, cleanStart: false, SessionExpiry);
            await client.SubscribeAsync($"rooms/{clientId}", qos: MqttQualityOfServiceLevel.AtLeastOnce);
        }

        await using (var moved = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "leaver", cleanStart: false, SessionExpiry))
        {
            Assert.True(moved.SessionPresent);
        }

        // Node 1 stops and starts again as the same node (same node-to-node port, so the same owner name in the store).
        var restarting = Stopwatch.StartNew();
        _hosts[0].Terminate();
        Assert.Equal(0, await _hosts[0].WaitForExitAsync());
        output.WriteLine($"node 1 stopped after {restarting.ElapsedMilliseconds} ms");

        // Gone, node 1 is dead for the others: a survivor adopts its offline session, so that what is published meanwhile is queued.
        await Poll.UntilAsync(async () => await QueuedAsync(nodes[1].Api, "stayer") is not null || await QueuedAsync(nodes[2].Api, "stayer") is not null,
            DeathBound, "no survivor adopted the stopped node's session");
        output.WriteLine($"its session adopted {restarting.ElapsedMilliseconds} ms after the stop began");
        var restarted = StartNode(0, _nodePorts[0], []);
        _hosts.Add(restarted);
        var api = await LoginAsync(restarted);
        var mqtt = await restarted.WaitForMqttEndpointAsync();
        output.WriteLine($"node 1 serves again {restarting.ElapsedMilliseconds} ms after the stop began");

        // It loads none of the sessions it owned: another node took each of them since.
        Assert.Null(await QueuedAsync(api, "stayer"));
        Assert.Null(await QueuedAsync(api, "leaver"));
        Assert.Equal(0, await QueuedAsync(nodes[1].Api, "leaver"));

        // Both clients come back to it and find their sessions: the adopted one, and the one node 2 gives up.
        await using var stayer = await ClusterClient.ConnectAsync(mqtt, "stayer", cleanStart: false, SessionExpiry);
        Assert.True(stayer.SessionPresent);
        await using var leaver = await ClusterClient.ConnectAsync(mqtt, "leaver", cleanStart: false, SessionExpiry);
        Assert.True(leaver.SessionPresent);
        Assert.Null(await QueuedAsync(nodes[1].Api, "leaver"));
    }

    /// <summary>The messages queued for <paramref name="clientId"/>'s session on the node; null when the node has no such session.</summary>
    private static async Task<int?> QueuedAsync(HttpClient api, string clientId)
    {
        using var response = await api.GetAsync(new Uri($"/api/v1/sessions/{clientId}", UriKind.Relative));
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("queuedMessages").GetInt32();
    }
}
