using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using IoTHub.Data.Stores;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace IoTHub.Web.Tests;

/// <summary>
/// Three real broker processes on loopback, each with its own HTTP, MQTT and node-to-node port, form one cluster
/// in one real PostgreSQL database; one is killed (SIGKILL), frozen (SIGSTOP) or stopped (SIGTERM), and the others must
/// see it. The bounds are loose on purpose (the tuned settings take a few seconds, docs/clustering.md); the real times
/// are printed.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed partial class ClusterTests(PostgresServer server, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan DeathBound = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _workingDirectory = new();
    private readonly List<HostProcess> _hosts = [];
    private readonly List<HttpClient> _clients = [];

    /// <summary>What every node of the cluster started by <see cref="StartClusterAsync"/> is given: its storage, and the cluster's name.</summary>
    private string[] _nodeArguments = [];

    /// <summary>Each node's node-to-node port, by index, to start it again as the same node (<see cref="StartNode"/>).</summary>
    private int[] _nodePorts = [];

    /// <summary>Each node's first admin gets the known password (the variable the processes inherit).</summary>
    static ClusterTests() => Environment.SetEnvironmentVariable(FirstAdmin.PasswordVariable, AdminApiHost.AdminPassword);

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        foreach (var host in _hosts)
        {
            host.Dispose();
        }

        _workingDirectory.Dispose();
    }

    [Fact]
    public async Task ThreeNodesShareTheirConnectionCountsAndSeeAKilledAndAStoppedNodeDead()
    {
        var nodes = await StartClusterAsync(sharedStore: false);
        var view = await ClusterAsync(nodes[0].Api);
        Assert.All(view, n => Assert.Equal(0, n.Connections));

        // A client on the first node is counted in the second node's view.
        var first = view.Single(n => n.Self).Id;
        await using (var client = await MqttTestClient.ConnectTcpAsync(nodes[0].Mqtt, "cluster-client"))
        {
            await Poll.UntilAsync(async () => (await ClusterAsync(nodes[1].Api)).Single(n => n.Id == first).Connections == 1, HostProcess.Timeout,
                "the second node did not see the first node's connection");
            Assert.Equal(0, (await ClusterAsync(nodes[1].Api)).Single(n => n.Self).Connections);
        }

        // SIGKILL: no goodbye, the survivors have to find out.
        var killed = await SelfIdAsync(nodes[2].Api);
        var dying = Stopwatch.StartNew();
        await _hosts[2].KillAsync();
        await UntilDeadAsync(killed, nodes[0].Api, nodes[1].Api);
        output.WriteLine($"SIGKILL: declared dead on both survivors after {dying.ElapsedMilliseconds} ms");
        var after = await ClusterAsync(nodes[1].Api);
        Assert.Equal(2, after.Count(n => n.Status == "active"));
        Assert.Null(after.Single(n => n.Id == killed).Connections);

        // SIGTERM: the node leaves the membership itself and exits cleanly.
        var stopped = await SelfIdAsync(nodes[1].Api);
        var leaving = Stopwatch.StartNew();
        _hosts[1].Terminate();
        Assert.Equal(0, await _hosts[1].WaitForExitAsync());
        await UntilDeadAsync(stopped, nodes[0].Api);
        output.WriteLine($"SIGTERM: exited and shown dead after {leaving.ElapsedMilliseconds} ms");
        Assert.Equal("active", (await ClusterAsync(nodes[0].Api)).Single(n => n.Self).Status);
    }

    [Fact]
    public async Task AFrozenNodeIsDeclaredDeadAndDoesNotComeBackAsItself()
    {
        var nodes = await StartClusterAsync(sharedStore: true);
        var frozen = await SelfIdAsync(nodes[2].Api);

        var freezing = Stopwatch.StartNew();
        await _hosts[2].SuspendAsync();
        await UntilDeadAsync(frozen, nodes[0].Api, nodes[1].Api);
        output.WriteLine($"SIGSTOP: declared dead on both survivors after {freezing.ElapsedMilliseconds} ms");

        // Thawed, it finds itself declared dead: Orleans stops a node the cluster declared dead, so it cannot serve as a
        // second copy of itself; the others never take that start of it back.
        var thawing = Stopwatch.StartNew();
        _hosts[2].Resume();
        var code = await _hosts[2].WaitForExitAsync();
        output.WriteLine($"the thawed node exited with {code} after {thawing.ElapsedMilliseconds} ms");
        var view = await ClusterAsync(nodes[0].Api);
        Assert.Equal("dead", view.Single(n => n.Id == frozen).Status);
        Assert.Equal(2, view.Count(n => n.Status == "active"));
    }

    [Fact]
    public async Task APublishOnOneNodeReachesTheSubscribersOfTheOthersOnceAndStopsWithTheirRoutes()
    {
        var nodes = await StartClusterAsync(sharedStore: false);
        var ids = await IdsAsync(nodes);

        // B: the exact topic, Retain As Published; C: a wildcard. The publisher on A.
        await using var onB = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "sub-b");
        await onB.SubscribeAsync("plant/line1/temp", retainAsPublished: true);
        await using var onC = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "sub-c");
        await onC.SubscribeAsync("plant/+/temp");
        await using var onA = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "pub-a");
        await UntilFiltersAsync(nodes[0].Api, ids[1], 1);
        await UntilFiltersAsync(nodes[0].Api, ids[2], 1);

        for (var qos = 0; qos <= 2; qos++)
        {
            await onA.PublishAsync("plant/line1/temp", "qos" + qos, (MqttQualityOfServiceLevel)qos, withProperties: true);
        }

        await onA.PublishAsync("plant/line1/temp", "retained", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        await onA.PublishAsync("plant/line2/temp", "only-c", MqttQualityOfServiceLevel.ExactlyOnce);
        await onA.PublishAsync("plant/line1/temp", "end", MqttQualityOfServiceLevel.AtLeastOnce);
        await onB.UntilAsync("end");
        await onC.UntilAsync("end");

        // Each message once (QoS 2 never twice), in order, topic and payload intact, at the QoS published (both subscribed at 2).
        Assert.Equal(["qos0", "qos1", "qos2", "retained", "end"], onB.Payloads);
        Assert.Equal(["qos0", "qos1", "qos2", "retained", "only-c", "end"], onC.Payloads);
        Assert.Equal([0, 1, 2, 1, 1], onB.Received.Select(m => (int)m.QualityOfServiceLevel));
        Assert.All(onB.Received, m => Assert.Equal("plant/line1/temp", m.Topic));
        Assert.Equal("plant/line2/temp", onC.Received[4].Topic);

        // RETAIN as a local subscriber would see it: 1 only for Retain As Published; the MQTT 5 properties forwarded.
        Assert.True(onB.Received[3].Retain);
        Assert.False(onC.Received[3].Retain);
        foreach (var message in new[] { onB.Received[2], onC.Received[2] })
        {
            Assert.Equal("text/plain", message.ContentType);
            Assert.Equal("reply/to", message.ResponseTopic);
            Assert.Equal([7, 8, 9], message.CorrelationData);
            Assert.Equal(("origin", "node-a"), Assert.Single(message.UserProperties!, p => p.Name == "origin") is var p ? (p.Name, p.Value) : default);
            Assert.InRange(message.MessageExpiryInterval, 1u, 300u);
        }

        // Unsubscribed on B: A stops routing there; C still gets what it subscribed to.
        await onB.UnsubscribeAsync("plant/line1/temp");
        await UntilFiltersAsync(nodes[0].Api, ids[1], 0);
        await onA.PublishAsync("plant/line1/temp", "after-unsubscribe", MqttQualityOfServiceLevel.AtLeastOnce);
        await onC.UntilAsync("after-unsubscribe");
        Assert.Equal(5, onB.Received.Count);

        // kill -9 of C: its routes leave A's and B's replicas, and A and B go on exchanging messages both ways.
        await _hosts[2].KillAsync();
        await UntilDeadAsync(ids[2], nodes[0].Api, nodes[1].Api);
        await UntilFiltersAsync(nodes[0].Api, ids[2], null);
        await UntilFiltersAsync(nodes[1].Api, ids[2], null);

        await onB.SubscribeAsync("plant/line1/temp");
        await onA.SubscribeAsync("back/to/a");
        await UntilFiltersAsync(nodes[0].Api, ids[1], 1);
        await UntilFiltersAsync(nodes[1].Api, ids[0], 1);
        await onA.PublishAsync("plant/line1/temp", "after-kill", MqttQualityOfServiceLevel.ExactlyOnce);
        await onB.PublishAsync("back/to/a", "from-b", MqttQualityOfServiceLevel.ExactlyOnce);
        await onB.UntilAsync("after-kill");
        await onA.UntilAsync("from-b");
        // B's new subscription first gets the topic's retained message, which B kept when A forwarded it ([MQTT-3.3.1-6]).
        Assert.Equal(["qos0", "qos1", "qos2", "retained", "end", "retained", "after-kill"], onB.Payloads);
        Assert.True(onB.Received[5].Retain);
        Assert.Equal(["from-b"], onA.Payloads);
    }

    /// <summary>Waits until <paramref name="observer"/> routes <paramref name="filters"/> filters to node <paramref name="id"/> (null: knows none of it).</summary>
    private static Task UntilFiltersAsync(HttpClient observer, string id, int? filters) =>
        Poll.UntilAsync(async () => (await ClusterAsync(observer)).Single(n => n.Id == id).Filters == filters, DeathBound,
            $"the filters routed to node {id} did not become {filters?.ToString(CultureInfo.InvariantCulture) ?? "none"}");

    /// <summary>
    /// Starts <paramref name="count"/> nodes (three unless told) and waits until each of them sees all of them active. With
    /// <paramref name="sharedStore"/> they store their state in the one PostgreSQL database, which the cluster then uses too (no
    /// Cluster:ConnectionString), and all migrate the new database at once as they start; without, they keep state in memory and
    /// are given the migrated cluster database (<paramref name="connectionString"/> when given). The last node gets
    /// <paramref name="lastNodeArguments"/> too, and every node <paramref name="everyNodeArguments"/> (for the rest of the test too).
    /// </summary>
    private async Task<List<(HttpClient Api, IPEndPoint Mqtt)>> StartClusterAsync(bool sharedStore, string? connectionString = null,
        string[]? lastNodeArguments = null, int count = 3, string[]? everyNodeArguments = null)
    {
        connectionString ??= await server.CreateDatabaseAsync();
        string[] storage = sharedStore
            ? ["--Storage:Provider=postgres", $"--Storage:ConnectionString={connectionString}", "--Storage:MigrateOnStart=true"]
            : ["--Storage:Provider=memory", $"--Cluster:ConnectionString={connectionString}"];
        if (!sharedStore)
        {
            await PostgresStorage.MigrateAsync(connectionString);
        }

        _nodeArguments = [.. storage, "--Cluster:Enabled=true", "--Cluster:Name=test-" + Guid.NewGuid().ToString("N")[..8], .. everyNodeArguments ?? []];
        var ports = _nodePorts = [.. Enumerable.Range(0, count).Select(static _ => FreePort.Next())];
        for (var i = 0; i < count; i++)
        {
            _hosts.Add(StartNode(i, ports[i], i == count - 1 ? lastNodeArguments ?? [] : []));
        }

        var nodes = new List<(HttpClient Api, IPEndPoint Mqtt)>();
        foreach (var host in _hosts)
        {
            nodes.Add((await LoginAsync(host), await host.WaitForMqttEndpointAsync()));
        }

        var joined = Stopwatch.StartNew();
        foreach (var (api, _) in nodes)
        {
            try
            {
                await Poll.UntilAsync(async () => (await ClusterAsync(api)).Count(n => n.Status == "active") == count, HostProcess.Timeout,
                    $"{count} active nodes not seen by every node");
            }
            catch (Xunit.Sdk.XunitException)
            {
                // Why: a node the others declared dead exits (Orleans: 134), one that could not join says so in its log.
                foreach (var (host, index) in _hosts.Select((host, index) => (host, index)))
                {
                    var log = host.Output;
                    output.WriteLine($"node {index} {(host.HasExited ? "exited" : "runs")}; the end of its output:\n{log[Math.Max(0, log.Length - 4000)..]}");
                }

                throw;
            }
        }

        output.WriteLine($"all {count} nodes saw {count} active nodes {joined.ElapsedMilliseconds} ms after the last one's API answered");
        Assert.Equal(ports.Order(), (await ClusterAsync(nodes[0].Api)).Select(n => n.Port).Order());
        return nodes;
    }

    /// <summary>Starts node <paramref name="index"/> of the cluster <see cref="StartClusterAsync"/> made, on its node-to-node <paramref name="port"/>.</summary>
    private HostProcess StartNode(int index, int port, string[] arguments) =>
        HostProcess.Start(_workingDirectory.Path, ["--http-port", "0", "--mqtt-port", "0",
            "--data-dir", Path.Combine(_workingDirectory.Path, $"node{index.ToString(CultureInfo.InvariantCulture)}"), .. _nodeArguments,
            $"--Cluster:Port={port.ToString(CultureInfo.InvariantCulture)}", .. arguments]);

    /// <summary>Which survivor of node 1's death (node 0 or 2) adopted the session of <paramref name="clientId"/>, once one did.</summary>
    private static async Task<int> AdopterAsync(List<(HttpClient Api, IPEndPoint Mqtt)> nodes, string clientId)
    {
        var adopter = -1;
        await Poll.UntilAsync(async () =>
        {
            foreach (var survivor in new[] { 0, 2 })
            {
                if (await QueuedAsync(nodes[survivor].Api, clientId) is not null)
                {
                    adopter = survivor;
                    return true;
                }
            }

            return false;
        }, DeathBound, "no survivor adopted the dead node's session");
        return adopter;
    }

    private static Task UntilDeadAsync(string id, params HttpClient[] observers) =>
        Poll.UntilAsync(async () =>
        {
            foreach (var api in observers)
            {
                if ((await ClusterAsync(api)).Single(n => n.Id == id).Status != "dead")
                {
                    return false;
                }
            }

            return true;
        }, DeathBound, $"node {id} was not declared dead within {DeathBound}");

    private async Task<HttpClient> LoginAsync(HostProcess host)
    {
        var url = HttpListening().Match(await host.WaitForLineAsync("HTTP listening on ")).Groups[1].Value;
        var client = new HttpClient { BaseAddress = new Uri(url) };
        _clients.Add(client);
        var response = await client.PostAsJsonAsync("/api/v1/auth/login", new { userName = FirstAdmin.UserName, password = AdminApiHost.AdminPassword });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var token = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>Each node's id, as it tells it, in the order of <paramref name="nodes"/>.</summary>
    private static async Task<List<string>> IdsAsync(List<(HttpClient Api, IPEndPoint Mqtt)> nodes)
    {
        var ids = new List<string>();
        foreach (var (api, _) in nodes)
        {
            ids.Add(await SelfIdAsync(api));
        }

        return ids;
    }

    private static async Task<string> SelfIdAsync(HttpClient api) => (await ClusterAsync(api)).Single(n => n.Self).Id;

    private static async Task<List<Node>> ClusterAsync(HttpClient api)
    {
        var body = await api.GetFromJsonAsync<JsonElement>("/api/v1/cluster");
        Assert.True(body.GetProperty("enabled").GetBoolean());
        return
        [
            .. body.GetProperty("nodes").EnumerateArray().Select(static n => new Node(n.GetProperty("id").GetString()!, n.GetProperty("port").GetInt32(),
                n.GetProperty("status").GetString()!, n.GetProperty("connections").ValueKind == JsonValueKind.Null ? null : n.GetProperty("connections").GetInt32(),
                n.GetProperty("self").GetBoolean(), n.GetProperty("filters").ValueKind == JsonValueKind.Null ? null : n.GetProperty("filters").GetInt32())),
        ];
    }

    private sealed record Node(string Id, int Port, string Status, int? Connections, bool Self, int? Filters);

    [GeneratedRegex(@"HTTP listening on (http://\S+)")]
    private static partial Regex HttpListening();
}
