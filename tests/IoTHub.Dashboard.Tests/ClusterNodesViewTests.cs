using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Data.Stores;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The Status page of a clustered host (a cluster of one node, its membership in a real PostgreSQL): the nodes as GET /api/v1/cluster tells them, live.</summary>
public sealed class ClusterNodesViewTests(ClusteredDashboardHost cluster, Chromium chromium) : IClassFixture<ClusteredDashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task The_status_page_shows_the_nodes_of_the_api_with_their_live_connections_and_filters()
    {
        var host = cluster.Host;
        var admin = await host.AdminAsync();
        JsonElement self = default;
        await Poll.UntilAsync(async () =>
        {
            self = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/cluster")).GetProperty("nodes").EnumerateArray().Single(static n => n.GetProperty("self").GetBoolean());
            return self.GetProperty("status").GetString() == "active";
        }, Chromium.Timeout, "the node did not become active");

        var page = await OpenAsync(chromium, host, FirstAdmin.UserName, AdminApiHost.AdminPassword, "Status", "Brokers and listeners");

        var row = page.Locator($"tr[data-node=\"{self.GetProperty("id").GetString()}\"]");
        await Expect(row).ToContainTextAsync(self.GetProperty("name").GetString() + " (this node)");
        await Expect(row.GetByTestId("node-status")).ToHaveTextAsync("Active");
        await Expect(row.GetByTestId("node-connections")).ToHaveTextAsync("0");
        await Expect(row.GetByTestId("node-filters")).ToHaveTextAsync("0");
        await Expect(row.GetByTestId("node-heartbeat")).ToContainTextAsync(self.GetProperty("lastHeartbeat").GetDateTimeOffset().UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));

        using var subscriber = await SubscribeAsync(host, "cluster-counted", "cluster/#");

        await Expect(row.GetByTestId("node-connections")).ToHaveTextAsync("1");
        await Expect(row.GetByTestId("node-filters")).ToHaveTextAsync("1");
    }
}

/// <summary>A dashboard host that is a node of a cluster of one: Cluster:Enabled, the membership in a database of its own PostgreSQL server.</summary>
public sealed class ClusteredDashboardHost : IAsyncLifetime
{
    private readonly PostgresServer _postgres = new();

    public DashboardHost Host { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        var connectionString = await _postgres.CreateDatabaseAsync();
        await PostgresStorage.MigrateAsync(connectionString);
        Host = new Node(new Dictionary<string, string>
        {
            ["Cluster:Enabled"] = "true",
            ["Cluster:Name"] = "dashboard-" + Guid.NewGuid().ToString("N")[..8],
            ["Cluster:ConnectionString"] = connectionString,
            ["Cluster:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
        });
    }

    public async Task DisposeAsync()
    {
        Host?.Dispose();
        await _postgres.DisposeAsync();
    }

    private sealed class Node(IReadOnlyDictionary<string, string> settings) : DashboardHost(settings);
}
