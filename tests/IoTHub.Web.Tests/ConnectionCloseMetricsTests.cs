using System.Net;
using IoTHub.Broker;
using IoTHub.Broker.Diagnostics;
using IoTHub.Mqtt;
using IoTHub.Testing;
using IoTHub.Web.Mqtt;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests;

/// <summary>What /metrics says about closed connections and storage commits, read as deltas of real scrapes.</summary>
internal static class CloseMetrics
{
    public static readonly string[] Reasons = [.. ConnectionCloseReasons.All.Select(static r => r.Label())];

    public static string Closed(string broker, string reason) => $"iothub_connections_closed_total{{broker=\"{broker}\",reason=\"{reason}\"}}";

    /// <summary>
    /// Runs <paramref name="act"/>, which must end every connection it opens, and checks that each reason of
    /// <paramref name="broker"/> grew by its expected count (every other reason by 0). It starts and ends once the broker
    /// has no connection left: a connection is counted before it leaves the broker's set, so nothing of an earlier test
    /// is counted late into this one, and nothing of this one is missed.
    /// </summary>
    public static async Task AssertClosedAsync(HttpClient metrics, MqttBroker broker, string name, Func<Task> act, params (string Reason, int Count)[] expected)
    {
        await Poll.UntilAsync(() => broker.ConnectionCount == 0);
        var before = await MetricsScrape.ReadAsync(metrics);
        await act();
        await Poll.UntilAsync(() => broker.ConnectionCount == 0);
        var after = await MetricsScrape.ReadAsync(metrics);
        foreach (var reason in Reasons)
        {
            var series = Closed(name, reason);
            Assert.True(after.ContainsKey(series), series + " is not in the scrape");
            var want = expected.Where(e => e.Reason == reason).Sum(static e => e.Count);
            Assert.True(want == after[series] - before[series], $"{series}: grew by {after[series] - before[series]}, expected {want}");
        }
    }
}

/// <summary>
/// iothub_connections_closed_total{broker,reason} (issue 25): each reason produced over real sockets, each connection
/// whose CONNECT was accepted counted once, a refused one not at all. Runs alone (see <see cref="MetricsRunAlone"/>).
/// </summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class ConnectionCloseMetricsTests(AdminApiHost host) : IClassFixture<AdminApiHost>
{
    private MqttBroker Broker => host.Services.GetRequiredService<MqttBroker>();

    private Task AssertClosedAsync(Func<Task> act, params (string Reason, int Count)[] expected) =>
        CloseMetrics.AssertClosedAsync(host.Client, Broker, "default", act, expected);

    [Fact]
    public Task A_client_disconnect_is_counted_as_client_disconnect() => AssertClosedAsync(async () =>
    {
        await using var v5 = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "close-disconnect-5", MqttProtocolVersion.V500);
        await v5.DisconnectAsync();
        await using var v3 = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "close-disconnect-3");
        await v3.DisconnectAsync();
    }, ("client_disconnect", 2));

    [Fact]
    public Task A_connection_lost_without_disconnect_is_counted_as_network() => AssertClosedAsync(async () =>
    {
        await using var client = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "close-network", MqttProtocolVersion.V500);
        await client.DropAsync();
    }, ("network", 1));

    [Fact]
    public Task A_silent_client_is_counted_as_keepalive() => AssertClosedAsync(async () =>
    {
        await using var client = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500);
        await client.ConnectAcceptedAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "close-keepalive", KeepAlive = 1 });

        // No packet for 1.5 s: the broker closes with DISCONNECT 0x8D.
        var last = await client.DrainUntilClosedAsync();
        Assert.Contains(last, static p => p.Control is DisconnectPacket { ReasonCode: ReasonCode.KeepAliveTimeout });
    }, ("keepalive", 1));

    [Fact]
    public Task A_session_taken_over_is_counted_as_takeover_once() => AssertClosedAsync(async () =>
    {
        await using var first = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "close-takeover", MqttProtocolVersion.V500);
        await using var second = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "close-takeover", MqttProtocolVersion.V500);
        var last = await first.DrainUntilClosedAsync();
        Assert.Contains(last, static p => p.Control is DisconnectPacket { ReasonCode: ReasonCode.SessionTakenOver });
        await second.DisconnectAsync();
    }, ("takeover", 1), ("client_disconnect", 1));

    [Fact]
    public Task A_protocol_violation_is_counted_as_protocol_error() => AssertClosedAsync(async () =>
    {
        // [MQTT-3.1.0-2] a second CONNECT: 5.0 gets DISCONNECT 0x82, 3.1.1 is closed.
        await using var v5 = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "close-protocol-5", MqttProtocolVersion.V500);
        await v5.SendAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "close-protocol-5" });
        var last = await v5.DrainUntilClosedAsync();
        Assert.Contains(last, static p => p.Control is DisconnectPacket { ReasonCode: ReasonCode.ProtocolError });

        // A malformed packet: PINGREQ with a remaining length.
        await using var v3 = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "close-protocol-3");
        await v3.SendRawAsync([0xC0, 0x01, 0x00]);
        await v3.ExpectClosedAsync();
    }, ("protocol_error", 2));

    [Fact]
    public Task A_client_disconnected_through_the_admin_api_is_counted_as_admin() => AssertClosedAsync(async () =>
    {
        var admin = await host.AdminAsync();
        await using var client = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "close-admin", MqttProtocolVersion.V500);
        var response = await admin.PostAsync(new Uri("/api/v1/clients/close-admin/disconnect", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var last = await client.DrainUntilClosedAsync();
        Assert.Contains(last, static p => p.Control is DisconnectPacket { ReasonCode: ReasonCode.AdministrativeAction });
    }, ("admin", 1));

    [Fact]
    public Task Connections_whose_connect_was_not_accepted_are_not_counted() => AssertClosedAsync(async () =>
    {
        await using (var refused = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500))
        {
            var connAck = await refused.ConnectRawAsync(new ConnectPacket
            {
                ProtocolVersion = MqttProtocolVersion.V500,
                ClientId = "close-refused",
                Properties = new MqttProperties { AuthenticationMethod = "SCRAM-SHA-256" },
            });
            Assert.Equal(ReasonCode.BadAuthenticationMethod, connAck.ReasonCode);
        }

        // Opened and dropped before any CONNECT.
        await using var silent = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500);
        await silent.DropAsync();
    });
}

/// <summary>
/// The broker's stop counted as server_shutdown (a second broker is stopped, so the host still answers /metrics), and
/// iothub_storage_commit_duration_seconds recorded by the default broker's storage (SQLite). Runs alone (see
/// <see cref="MetricsRunAlone"/>).
/// </summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class BrokerStopAndStorageMetricsTests(TwoBrokerHost host) : IClassFixture<TwoBrokerHost>
{
    private const string Commits = "iothub_storage_commit_duration_seconds";
    private const string Tags = "{broker=\"default\",provider=\"sqlite\"}";

    [Fact]
    public async Task Connections_closed_by_the_brokers_stop_are_counted_as_server_shutdown()
    {
        var lab = host.Services.GetRequiredService<BrokerRegistry>()["lab"];
        await CloseMetrics.AssertClosedAsync(host.Client, lab, "lab", async () =>
        {
            await using var client = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoints["lab"], "close-shutdown", MqttProtocolVersion.V500);
            await lab.StopAsync(TimeSpan.FromSeconds(2));
            var last = await client.DrainUntilClosedAsync();
            Assert.Contains(last, static p => p.Control is DisconnectPacket { ReasonCode: ReasonCode.ServerShuttingDown });
        }, ("server_shutdown", 1));
    }

    [Fact]
    public async Task Each_storage_commit_is_recorded_in_the_commit_duration_histogram()
    {
        var before = await MetricsScrape.ReadAsync(host.Client);
        double Delta(Dictionary<string, double> after, string series) => after.GetValueOrDefault(series) - before.GetValueOrDefault(series);

        // A QoS 1 message for an offline persistent session is stored before its PUBACK.
        var persistent = new MqttProperties { SessionExpiryInterval = 300 };
        await using (var offline = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "commit-offline", MqttProtocolVersion.V500, cleanStart: false, persistent))
        {
            await offline.SubscribeAsync("commit/topic", QualityOfService.AtLeastOnce);
            await offline.DisconnectAsync();
        }

        await using var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "commit-publisher");
        await publisher.PublishAndWaitAsync("commit/topic", "stored");

        Dictionary<string, double> after = [];
        await Poll.UntilAsync(async () => Delta(after = await MetricsScrape.ReadAsync(host.Client), Commits + "_count" + Tags) > 0);
        var count = Delta(after, Commits + "_count" + Tags);
        Assert.True(Delta(after, Commits + "_sum" + Tags) > 0);
        Assert.Equal(count, Delta(after, Commits + "_bucket{broker=\"default\",provider=\"sqlite\",le=\"5\"}"));
        Assert.Contains(Commits + "_bucket{broker=\"default\",provider=\"sqlite\",le=\"0.0001\"}", after.Keys);

        // Once per batch, not per operation: never more records than the writer committed batches.
        var writer = host.Services.GetRequiredService<IoTHub.Broker.Storage.StorageWriter>();
        Assert.True(after[Commits + "_count" + Tags] <= writer.CommittedBatches);
    }
}
