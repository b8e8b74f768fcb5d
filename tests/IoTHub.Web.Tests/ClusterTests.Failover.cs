using System.Diagnostics;
using System.Globalization;
using System.Net;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Npgsql;

namespace IoTHub.Web.Tests;

/// <summary>
/// What a node that dies leaves behind, with the three nodes sharing one PostgreSQL store: one survivor adopts its offline sessions (their
/// subscriptions keep queueing until the client comes back, on any node) and publishes the wills of its connected clients.
/// </summary>
public sealed partial class ClusterTests
{
    [Fact]
    public async Task ADeadNodesOfflineSessionIsAdoptedQueuesWhatIsPublishedAndFollowsItsClientToAnotherNode()
    {
        var database = await server.CreateDatabaseAsync();
        var nodes = await StartClusterAsync(sharedStore: true, database);
        var ids = await IdsAsync(nodes);

        // A persistent session on node B, subscribed at QoS 1, offline, its state committed.
        await using (var first = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "adoptee", cleanStart: false, SessionExpiry))
        {
            await first.SubscribeAsync("adopt/#", qos: MqttQualityOfServiceLevel.AtLeastOnce);
        }

        await Poll.UntilAsync(async () => await CountAsync(database,
            "SELECT count(*) FROM sessions s JOIN subscriptions f USING (client_id) WHERE s.client_id = 'adoptee' AND s.disconnected_at IS NOT NULL") == 1,
            DeathBound, "the offline session was not stored");

        // kill -9 of B: one survivor adopts the session, its subscription in the survivor's tree.
        var dying = Stopwatch.StartNew();
        await _hosts[1].KillAsync();
        await UntilDeadAsync(ids[1], nodes[0].Api, nodes[2].Api);
        output.WriteLine($"node B declared dead after {dying.ElapsedMilliseconds} ms");
        var adopter = await AdopterAsync(nodes, "adoptee");
        output.WriteLine($"the session adopted by node {adopter} {dying.ElapsedMilliseconds} ms after the kill");
        var other = 2 - adopter;
        Assert.Null(await QueuedAsync(nodes[other].Api, "adoptee"));
        Assert.Equal(1, await CountAsync(database, $"SELECT count(*) FROM sessions WHERE client_id = 'adoptee' AND owner_node LIKE '%:{_nodePorts[adopter]}'"));

        // Published on A after the adoption: queued for the offline session on the adopter (its filter reached A first).
        if (adopter != 0)
        {
            await UntilFiltersAsync(nodes[0].Api, ids[adopter], 1);
        }

        await using var publisher = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "adoptee-publisher");
        string[] published = ["a1", "a2", "a3", "a4", "a5"];
        foreach (var payload in published)
        {
            await publisher.PublishAsync("adopt/news", payload, MqttQualityOfServiceLevel.AtLeastOnce);
        }

        await Poll.UntilAsync(async () => await QueuedAsync(nodes[adopter].Api, "adoptee") == published.Length, DeathBound, "the adopter did not queue the messages");

        // The client comes back on the other survivor: the arbiter knows the adopter owns it, the session moves there, present
        // [MQTT-3.2.2-3], with every message once and in order [MQTT-4.6.0-6].
        await using var back = await ClusterClient.ConnectAsync(nodes[other].Mqtt, "adoptee", cleanStart: false, SessionExpiry);
        Assert.True(back.SessionPresent);
        await back.UntilAsync("a5");
        Assert.Equal(published, back.Payloads);
        Assert.Null(await QueuedAsync(nodes[adopter].Api, "adoptee"));
    }

    [Fact]
    public async Task TheWillsOfADeadNodesClientsArePublishedByASurvivor()
    {
        var database = await server.CreateDatabaseAsync();
        var nodes = await StartClusterAsync(sharedStore: true, database);
        var ids = await IdsAsync(nodes);
        await using var watcher = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "will-watcher");
        await watcher.SubscribeAsync("wills/#", qos: MqttQualityOfServiceLevel.AtLeastOnce);
        await UntilFiltersAsync(nodes[2].Api, ids[0], 1);

        // Clients of node B with wills: 5.0 without delay; 5.0 with a long delay but a session that ends with the connection (expiry 0:
        // the delay ends with the session, 5.0 §3.1.3.2.2); 5.0 with a 10 s delay and a persistent session (held for its delay by the
        // adopter); 3.1.1. One more leaves with DISCONNECT 0x00: its will is deleted [MQTT-3.1.2-10], and never published.
        var testators = new List<IMqttClient>
        {
            await WillClientAsync(nodes[1].Mqtt, "sudden", delay: 0, sessionExpiry: 0),
            await WillClientAsync(nodes[1].Mqtt, "short-lived", delay: 600, sessionExpiry: 0),
            await WillClientAsync(nodes[1].Mqtt, "patient", delay: 10, sessionExpiry: SessionExpiry),
            await WillClientAsync(nodes[1].Mqtt, "classic", delay: 0, sessionExpiry: 0, MqttProtocolVersion.V311),
        };
        var polite = await WillClientAsync(nodes[1].Mqtt, "polite", delay: 0, sessionExpiry: 0);
        await polite.DisconnectAsync();
        polite.Dispose();
        await Poll.UntilAsync(async () => await CountAsync(database, "SELECT count(*) FROM connection_wills") == testators.Count, DeathBound,
            "the connections' wills were not stored (or the polite one not deleted)");

        // kill -9 of B: the connections end without DISCONNECT [MQTT-3.1.2-8]; a survivor publishes their wills.
        var dying = Stopwatch.StartNew();
        await _hosts[1].KillAsync();
        await UntilDeadAsync(ids[1], nodes[0].Api, nodes[2].Api);
        output.WriteLine($"node B declared dead after {dying.ElapsedMilliseconds} ms");
        await watcher.UntilAsync("classic");
        await watcher.UntilAsync("sudden");
        await watcher.UntilAsync("short-lived");
        var published = dying.Elapsed;
        output.WriteLine($"the wills without delay received {published.TotalMilliseconds:F0} ms after the kill");

        // The delayed one is held by the adopter for its 10 s from the adoption, which comes after the wills without delay.
        await Poll.UntilAsync(() => Task.FromResult(watcher.Payloads.Contains("patient")), DeathBound, "the delayed will did not arrive");
        output.WriteLine($"the will with a 10 s delay received {dying.ElapsedMilliseconds} ms after the kill");
        Assert.True(dying.Elapsed - published > TimeSpan.FromSeconds(9.5), $"the delayed will came {(dying.Elapsed - published).TotalSeconds:F1} s after the others");

        // Each once, at its QoS, on its topic; the polite client's never.
        Assert.Equal(["classic", "patient", "short-lived", "sudden"], watcher.Payloads.Order(StringComparer.Ordinal));
        Assert.All(watcher.Received, m => Assert.Equal("wills/" + m.Payload, m.Topic));
        Assert.All(watcher.Received, m => Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, m.QualityOfServiceLevel));
        Assert.Equal(0, await CountAsync(database, "SELECT count(*) FROM connection_wills"));
        foreach (var testator in testators)
        {
            testator.Dispose();
        }
    }

    [Fact]
    public async Task AClientOfAFrozenNodeIsRefusedUntilTheNodeIsDeadThenFindsItsSessionElsewhere()
    {
        var nodes = await StartClusterAsync(sharedStore: true);
        var ids = await IdsAsync(nodes);
        var sleeper = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "sleeper", cleanStart: false, SessionExpiry);
        await using var _ = sleeper;
        await sleeper.SubscribeAsync("sleep/#", qos: MqttQualityOfServiceLevel.AtLeastOnce);

        // Node 1 freezes with the client's session: it cannot be asked to give it up, so node 2 refuses rather than make two owners,
        // until node 1 is declared dead. The first CONNECT's claim waits up to 4 s: when the verdict comes within it (about 2 s, and the
        // arbiters' lease ends about then), the claim is granted and that first CONNECT is accepted; either is right.
        await _hosts[0].SuspendAsync();
        var frozen = Stopwatch.StartNew();
        var answers = new List<MqttClientConnectResult> { await ClusterClient.AnswerAsync(nodes[1].Mqtt, "sleeper", SessionExpiry) };
        output.WriteLine($"first CONNECT to node 2 answered {answers[0].ResultCode} after {frozen.ElapsedMilliseconds} ms");

        // Declared dead, it owns nothing, and a survivor ends its database sessions (the row locks of its open transaction go with them):
        // once the arbiters of its client ids are found again, the client's retries get the session from the store (or from the survivor
        // that adopted it), subscription included. Every answer meanwhile is Server unavailable; none is accepted before the verdict.
        if (answers[0].ResultCode == MqttClientConnectResultCode.Success)
        {
            Assert.All(await Task.WhenAll(ClusterAsync(nodes[1].Api), ClusterAsync(nodes[2].Api)),
                view => Assert.Equal("dead", view.Single(n => n.Id == ids[0]).Status));
        }

        await UntilDeadAsync(ids[0], nodes[1].Api, nodes[2].Api);
        output.WriteLine($"node 1 declared dead {frozen.ElapsedMilliseconds} ms after the freeze");
        await Poll.UntilAsync(async () =>
        {
            if (answers[^1].ResultCode != MqttClientConnectResultCode.Success)
            {
                answers.Add(await ClusterClient.AnswerAsync(nodes[1].Mqtt, "sleeper", SessionExpiry));
            }

            return answers[^1].ResultCode == MqttClientConnectResultCode.Success;
        }, DeathBound, "node 2 never took the session over");
        output.WriteLine($"CONNECT to node 2 accepted {frozen.ElapsedMilliseconds} ms after the freeze, after {answers.Count - 1} refusals");
        Assert.All(answers[..^1], a => Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, a.ResultCode));
        Assert.True(answers[^1].IsSessionPresent);

        // The subscription came with it: the client, back on node 2, gets what is published on node 3.
        await using var woken = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "sleeper", cleanStart: false, SessionExpiry);
        Assert.True(woken.SessionPresent);
        await UntilFiltersAsync(nodes[2].Api, ids[1], 1);
        await using var publisher = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "sleeper-publisher");
        await publisher.PublishAsync("sleep/1", "after-freeze", MqttQualityOfServiceLevel.AtLeastOnce);
        await woken.UntilAsync("after-freeze");

        // Thawed, node 1 finds itself dead and stops (exit 134); the session stays node 2's.
        _hosts[0].Resume();
        Assert.Equal(134, await _hosts[0].WaitForExitAsync());
        Assert.Equal(0, await QueuedAsync(nodes[1].Api, "sleeper"));
        Assert.Equal(["after-freeze"], woken.Payloads);
    }

    /// <summary>A client connected with a will on wills/&lt;client id&gt; (payload: its client id, QoS 1).</summary>
    private static async Task<IMqttClient> WillClientAsync(IPEndPoint node, string clientId, uint delay, uint sessionExpiry,
        MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer(node.Address.ToString(), node.Port).WithClientId(clientId).WithProtocolVersion(version)
            .WithCleanStart(sessionExpiry == 0).WithTimeout(MqttTestClient.Timeout)
            .WithWillTopic("wills/" + clientId).WithWillPayload(clientId).WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        if (version == MqttProtocolVersion.V500)
        {
            options = options.WithSessionExpiryInterval(sessionExpiry).WithWillDelayInterval(delay);
        }

        await client.ConnectAsync(options.Build());
        return client;
    }

    private static async Task<long> CountAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
