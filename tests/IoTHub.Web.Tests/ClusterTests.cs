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
using Xunit.Abstractions;

namespace IoTHub.Web.Tests;

/// <summary>
/// Three real broker processes on loopback, each with its own HTTP, MQTT and node-to-node port, form one cluster
/// in one real PostgreSQL database; one is killed with SIGKILL and the others must declare it dead.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed partial class ClusterTests(PostgresServer server, ITestOutputHelper output) : IDisposable
{
    /// <summary>Loose on purpose (the tuned settings take a few seconds, docs/clustering.md); the real time is printed.</summary>
    private static readonly TimeSpan DeathBound = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _workingDirectory = new();

    /// <summary>Each node's first admin gets the known password (the variable the processes inherit).</summary>
    static ClusterTests() => Environment.SetEnvironmentVariable(FirstAdmin.PasswordVariable, AdminApiHost.AdminPassword);
    private readonly List<HostProcess> _hosts = [];
    private readonly List<HttpClient> _clients = [];

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
    public async Task ThreeNodesFormAClusterShareTheirConnectionCountsAndDeclareAKilledNodeDead()
    {
        var connectionString = await server.CreateDatabaseAsync();
        await PostgresStorage.MigrateAsync(connectionString);
        var name = "test-" + Guid.NewGuid().ToString("N")[..8];
        var ports = new[] { FreePort.Next(), FreePort.Next(), FreePort.Next() };
        for (var i = 0; i < 3; i++)
        {
            _hosts.Add(HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0",
                "--data-dir", Path.Combine(_workingDirectory.Path, $"node{i}"), "--Storage:Provider=memory",
                "--Cluster:Enabled=true", $"--Cluster:Name={name}", $"--Cluster:ConnectionString={connectionString}",
                $"--Cluster:Port={ports[i].ToString(CultureInfo.InvariantCulture)}"));
        }

        var nodes = new List<(HttpClient Api, IPEndPoint Mqtt)>();
        foreach (var host in _hosts)
        {
            nodes.Add((await LoginAsync(host), await host.WaitForMqttEndpointAsync()));
        }

        var joined = Stopwatch.StartNew();
        foreach (var (api, _) in nodes)
        {
            await Poll.UntilAsync(async () => (await ClusterAsync(api)).Count(n => n.Status == "active") == 3, HostProcess.Timeout,
                "three active nodes not seen by every node");
        }

        output.WriteLine($"all three nodes saw three active nodes {joined.ElapsedMilliseconds} ms after the last one's API answered");
        var view = await ClusterAsync(nodes[0].Api);
        Assert.Equal(ports.Order(), view.Select(n => n.Port).Order());
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
        var killedId = (await ClusterAsync(nodes[2].Api)).Single(n => n.Self).Id;
        var dying = Stopwatch.StartNew();
        await _hosts[2].KillAsync();
        await Poll.UntilAsync(async () =>
        {
            foreach (var (api, _) in nodes.Take(2))
            {
                if ((await ClusterAsync(api)).Single(n => n.Id == killedId).Status != "dead")
                {
                    return false;
                }
            }

            return true;
        }, DeathBound, $"the killed node was not declared dead within {DeathBound}");
        output.WriteLine($"the killed node was declared dead on both survivors after {dying.ElapsedMilliseconds} ms");

        var after = await ClusterAsync(nodes[1].Api);
        Assert.Equal(2, after.Count(n => n.Status == "active"));
        Assert.Null(after.Single(n => n.Id == killedId).Connections);
    }

    private async Task<HttpClient> LoginAsync(HostProcess host)
    {
        var password = AdminApiHost.AdminPassword;
        var url = HttpListening().Match(await host.WaitForLineAsync("HTTP listening on ")).Groups[1].Value;
        var client = new HttpClient { BaseAddress = new Uri(url) };
        _clients.Add(client);
        var response = await client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "admin", password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var token = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static async Task<List<Node>> ClusterAsync(HttpClient api)
    {
        var body = await api.GetFromJsonAsync<JsonElement>("/api/v1/cluster");
        Assert.True(body.GetProperty("enabled").GetBoolean());
        return
        [
            .. body.GetProperty("nodes").EnumerateArray().Select(static n => new Node(n.GetProperty("id").GetString()!, n.GetProperty("port").GetInt32(),
                n.GetProperty("status").GetString()!, n.GetProperty("connections").ValueKind == JsonValueKind.Null ? null : n.GetProperty("connections").GetInt32(),
                n.GetProperty("self").GetBoolean())),
        ];
    }

    private sealed record Node(string Id, int Port, string Status, int? Connections, bool Self);

    [GeneratedRegex(@"HTTP listening on (http://\S+)")]
    private static partial Regex HttpListening();
}
