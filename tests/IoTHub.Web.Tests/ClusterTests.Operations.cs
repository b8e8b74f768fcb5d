using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using Npgsql;

namespace IoTHub.Web.Tests;

/// <summary>Issue 20's operations items on three real processes: drain for rolling restarts, the split brain guard, the node label, the nodes on the dashboard.</summary>
public sealed partial class ClusterTests
{
    [Fact]
    public async Task ADrainedNodeIsNotReadyRefusesClientsSends0x8BAndLeavesWhileItsClientsWorkOnElsewhere()
    {
        var nodes = await StartClusterAsync(sharedStore: false);
        var ids = await IdsAsync(nodes);

        await using var publisher = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "publisher");
        var mover = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "mover");
        await using var old = await MqttTestClient.ConnectTcpAsync(nodes[2].Mqtt, "old-device", MqttProtocolVersion.V311);
        await mover.SubscribeAsync("plant/+/temp");
        await UntilFiltersAsync(nodes[0].Api, ids[2], 1);
        await publisher.PublishAsync("plant/line1/temp", "before", MqttQualityOfServiceLevel.AtLeastOnce);
        await mover.UntilAsync("before");
        Assert.Equal(HttpStatusCode.OK, await ReadinessAsync(nodes[2].Api));

        // Not without a token (the admin role only, like every change).
        using var anonymous = new HttpClient { BaseAddress = nodes[2].Api.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/api/v1/cluster/drain", null)).StatusCode);
        var drain = await nodes[2].Api.PostAsync("/api/v1/cluster/drain", null);
        Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
        Assert.Equal(ids[2], (await drain.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("node").GetString());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadinessAsync(nodes[2].Api));

        // 5.0: DISCONNECT 0x8B Server shutting down [MQTT-3.14.2-1]; 3.1.1 has no server DISCONNECT: the connection is just closed.
        Assert.Equal(MqttClientDisconnectReason.ServerShuttingDown, await mover.Disconnected.WaitAsync(HostProcess.Timeout));
        Assert.Empty(await old.DrainUntilClosedAsync());

        // Refused while it drains: CONNACK 0x88 Server unavailable (5.0 §3.2.2.2 has no CONNACK "shutting down"), 3.1.1 return code 3 (§3.2.2.3).
        await AssertConnectRefusedAsync(nodes[2].Mqtt);

        // It leaves the membership cleanly: dead for the others, its routes purged; its own process keeps running, not ready.
        await UntilDeadAsync(ids[2], nodes[0].Api, nodes[1].Api);
        await UntilFiltersAsync(nodes[0].Api, ids[2], null);
        Assert.False(_hosts[2].HasExited);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadinessAsync(nodes[2].Api));
        Assert.Equal("dead", (await ClusterAsync(nodes[2].Api)).Single(static n => n.Self).Status);

        // The client moves to another node and works on: cross-node routing delivers to it there.
        await mover.DisposeAsync();
        await using var moverOnB = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "mover");
        await moverOnB.SubscribeAsync("plant/+/temp");
        await UntilFiltersAsync(nodes[0].Api, ids[1], 1);
        await publisher.PublishAsync("plant/line1/temp", "after", MqttQualityOfServiceLevel.ExactlyOnce);
        await moverOnB.UntilAsync("after");
        Assert.Equal(["after"], moverOnB.Payloads);

        // The drained process then stops as it would in a rolling restart: SIGTERM finds the drain done, exit 0.
        _hosts[2].Terminate();
        Assert.Equal(0, await _hosts[2].WaitForExitAsync());

        // SIGTERM drains the same way: B's client gets 0x8B and reconnects to A; B ends dead.
        _hosts[1].Terminate();
        Assert.Equal(MqttClientDisconnectReason.ServerShuttingDown, await moverOnB.Disconnected.WaitAsync(HostProcess.Timeout));
        Assert.Equal(0, await _hosts[1].WaitForExitAsync());
        await UntilDeadAsync(ids[1], nodes[0].Api);
        await using var moverOnA = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "mover");
        await moverOnA.SubscribeAsync("plant/+/temp");
        await publisher.PublishAsync("plant/line1/temp", "on-a", MqttQualityOfServiceLevel.AtLeastOnce);
        await moverOnA.UntilAsync("on-a");
    }

    [Fact]
    public async Task ANodeThatLosesTheMembershipStoreStopsServingUntilItIsBack()
    {
        // The third node reaches the membership database as a PostgreSQL role of its own, which is taken away from it alone:
        // the server, and the other nodes' connections, go on.
        var connectionString = await server.CreateDatabaseAsync();
        var role = "node_" + Guid.NewGuid().ToString("N")[..8];
        await SqlAsync(connectionString, $"CREATE ROLE {role} LOGIN SUPERUSER");
        var ownLogin = new NpgsqlConnectionStringBuilder(connectionString) { Username = role }.ToString();
        var nodes = await StartClusterAsync(sharedStore: false, connectionString, [$"--Cluster:ConnectionString={ownLogin}"]);
        var ids = await IdsAsync(nodes);

        var device = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "device");
        await using var old = await MqttTestClient.ConnectTcpAsync(nodes[2].Mqtt, "old-device", MqttProtocolVersion.V311);
        Assert.Equal(HttpStatusCode.OK, await ReadinessAsync(nodes[2].Api));

        var losing = Stopwatch.StartNew();
        await SqlAsync(connectionString, $"ALTER ROLE {role} NOLOGIN");
        await SqlAsync(connectionString, $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'");

        // Existing clients closed: 5.0 with DISCONNECT 0x9C Use another server (0x88 Server unavailable is no DISCONNECT reason
        // code, [MQTT-3.14.2-1]); 3.1.1 closed without a packet. Readiness 503 and a log line saying why.
        Assert.Equal(MqttClientDisconnectReason.UseAnotherServer, await device.Disconnected.WaitAsync(HostProcess.Timeout));
        output.WriteLine($"the node stopped serving {losing.ElapsedMilliseconds} ms after its store login was taken away");
        Assert.Empty(await old.DrainUntilClosedAsync());
        Assert.Contains("membership store has not answered", await _hosts[2].WaitForLineAsync("Split brain guard: this node stops"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadinessAsync(nodes[2].Api));
        await device.DisposeAsync();

        // New clients refused: CONNACK 0x88 Server unavailable, 3.1.1 return code 3 Server unavailable.
        await AssertConnectRefusedAsync(nodes[2].Mqtt);

        // The other nodes serve on, and still count it a member (its probes answer).
        Assert.Equal(HttpStatusCode.OK, await ReadinessAsync(nodes[0].Api));

        // The store back: it serves again, and cross-node routing reaches its clients.
        var back = Stopwatch.StartNew();
        await SqlAsync(connectionString, $"ALTER ROLE {role} LOGIN");
        await Poll.UntilAsync(async () => await ReadinessAsync(nodes[2].Api) == HttpStatusCode.OK, HostProcess.Timeout, "the node did not become ready again");
        output.WriteLine($"ready again {back.ElapsedMilliseconds} ms after its login was given back");
        await _hosts[2].WaitForLineAsync("Split brain guard: the cluster's membership store answers again");
        await using var returning = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "device");
        await returning.SubscribeAsync("plant/+/temp");
        await UntilFiltersAsync(nodes[0].Api, ids[2], 1);
        await using var publisher = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "publisher");
        await publisher.PublishAsync("plant/line1/temp", "back", MqttQualityOfServiceLevel.AtLeastOnce);
        await returning.UntilAsync("back");
    }

    [Fact]
    public async Task EverySeriesOfAClusteredNodeCarriesItsNodeName()
    {
        var nodes = await StartClusterAsync(sharedStore: false);
        await using var client = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "counted");

        for (var i = 0; i < nodes.Count; i++)
        {
            // The node's name: its advertised address and node-to-node port, as GET /api/v1/cluster names it.
            var self = (await ClusterAsync(nodes[i].Api)).Single(n => n.Self);
            var label = $"node=\"127.0.0.1:{self.Port.ToString(CultureInfo.InvariantCulture)}\"";
            var samples = (await nodes[i].Api.GetStringAsync("/metrics")).Split('\n').Where(static l => l.Length > 0 && l[0] != '#').ToList();
            Assert.Contains(samples, static l => l.StartsWith("http_server_request_duration_seconds", StringComparison.Ordinal));
            Assert.All(samples, l => Assert.Equal(1, l.Split(label).Length - 1));

            var connections = (await MetricsScrape.ReadAsync(nodes[i].Api)).Where(static s => s.Key.StartsWith("iothub_connections{", StringComparison.Ordinal)).Sum(static s => s.Value);
            Assert.Equal(i == 1 ? 1 : 0, connections);
        }
    }

    [Fact]
    public async Task ANodeWhoseSettingsDifferFromTheActiveNodesStopsAtJoinListingThem()
    {
        var nodes = await StartClusterAsync(sharedStore: false);

        using var different = StartNode(3, FreePort.Next(), ["--Mqtt:MaximumPacketSize=2048", "--Cluster:IAmAliveInterval=00:00:04"]);
        Assert.Equal(1, await different.WaitForExitAsync());
        var output = different.Output;
        Assert.Contains("IoTHub cannot start:", output, StringComparison.Ordinal);
        foreach (var port in (await ClusterAsync(nodes[0].Api)).Where(static n => n.Status == "active").Select(static n => n.Port))
        {
            var node = "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
            Assert.Contains($"Mqtt:MaximumPacketSize is 2048 here and 1048576 on {node}", output, StringComparison.Ordinal);
            Assert.Contains($"Cluster:IAmAliveInterval is 00:00:04 here and 00:00:05 on {node}", output, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("Mqtt:MaximumQoS", output, StringComparison.Ordinal);

        // It never served: the three others go on, the one that stopped is not active in their view.
        var view = await ClusterAsync(nodes[1].Api);
        Assert.Equal(3, view.Count(static n => n.Status == "active"));

        // A node with the same settings joins.
        _hosts.Add(StartNode(4, FreePort.Next(), []));
        var alike = await LoginAsync(_hosts[^1]);
        await Poll.UntilAsync(async () => (await ClusterAsync(alike)).Count(static n => n.Status == "active") == 4, HostProcess.Timeout, "the fourth node did not join");
    }

    /// <summary>CONNACK 0x88 Server unavailable to an MQTT 5 client, return code 3 Server unavailable to a 3.1.1 client.</summary>
    private static async Task AssertConnectRefusedAsync(IPEndPoint node)
    {
        foreach (var version in new[] { MqttProtocolVersion.V500, MqttProtocolVersion.V311 })
        {
            await using var latecomer = await MqttTestClient.OpenTcpAsync(node, version);
            var connAck = await latecomer.ConnectRawAsync(new ConnectPacket { ProtocolVersion = version, ClientId = "latecomer", CleanStart = true });
            Assert.Equal(ReasonCode.ServerUnavailable, connAck.ReasonCode);
        }
    }

    private static async Task SqlAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<HttpStatusCode> ReadinessAsync(HttpClient api)
    {
        using var response = await api.GetAsync("/health/ready");
        return response.StatusCode;
    }
}
