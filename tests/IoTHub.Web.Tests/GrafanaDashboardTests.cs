using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using IoTHub.Mqtt;
using IoTHub.Testing;
using IoTHub.Web.Tests.Security;

namespace IoTHub.Web.Tests;

/// <summary>
/// docs/grafana/iothub-dashboard.json (issue 25): a well-formed Grafana dashboard whose every query names metrics that a
/// real /metrics scrape serves after MQTT traffic. Runs alone (see <see cref="MetricsRunAlone"/>): another host in the
/// process would report into the same series.
/// </summary>
[Collection(nameof(MetricsRunAlone))]
public sealed partial class GrafanaDashboardTests(PasswordFileKestrelHost host) : IClassFixture<PasswordFileKestrelHost>
{
    private const string DatasourceUid = "${datasource}";

    [Fact]
    public void The_dashboard_is_well_formed_and_covers_the_six_areas()
    {
        var dashboard = LoadDashboard();

        Assert.True(dashboard["schemaVersion"]!.GetValue<int>() >= 36, "schemaVersion too old for the panels used");
        Assert.False(string.IsNullOrWhiteSpace(dashboard["uid"]?.GetValue<string>()));
        Assert.False(string.IsNullOrWhiteSpace(dashboard["title"]?.GetValue<string>()));

        var variables = dashboard["templating"]!["list"]!.AsArray().Select(static v => v!).ToList();
        Assert.Contains(variables, static v => v["name"]!.GetValue<string>() == "datasource"
            && v["type"]!.GetValue<string>() == "datasource" && v["query"]!.GetValue<string>() == "prometheus");

        var panels = AllPanels(dashboard).ToList();
        var ids = panels.Select(static p => p["id"]!.GetValue<int>()).ToList();
        var repeated = ids.GroupBy(static id => id).Where(static g => g.Count() > 1).Select(static g => g.Key).ToList();
        Assert.True(repeated.Count == 0, "panel ids used more than once: " + string.Join(", ", repeated));

        var rows = panels.Where(IsRow).Select(static p => p["title"]!.GetValue<string>()).ToList();
        foreach (var area in new[] { "connections", "throughput", "drops", "latency", "storage", "authentication" })
        {
            Assert.True(rows.Exists(r => r.Contains(area, StringComparison.OrdinalIgnoreCase)), $"no row for {area}: rows are {string.Join(", ", rows)}");
        }

        foreach (var panel in panels.Where(static p => !IsRow(p)))
        {
            var title = panel["title"]?.GetValue<string>() ?? "(untitled)";
            Assert.True(panel["gridPos"] is JsonObject, $"{title}: no gridPos");
            Assert.True(panel["datasource"]?["uid"]?.GetValue<string>() == DatasourceUid, $"{title}: no datasource, or not the ${{datasource}} variable");
            var targets = panel["targets"]?.AsArray() ?? [];
            Assert.True(targets.Count > 0, $"{title}: no query");
            foreach (var target in targets)
            {
                var expr = target!["expr"]?.GetValue<string>();
                Assert.False(string.IsNullOrWhiteSpace(expr), $"{title}: a target without expr");
                Assert.True(target["datasource"] is null || target["datasource"]!["uid"]?.GetValue<string>() == DatasourceUid, $"{title}: a target on another datasource");
                // Every query names an IoTHub metric, so the scrape test below checks each of them.
                Assert.True(MetricNames(expr!).Any(), $"{title}: '{expr}' names no iothub_ metric");
            }
        }
    }

    [Fact]
    public async Task Every_metric_the_dashboard_queries_is_in_a_real_scrape_after_traffic()
    {
        var queried = Queries(LoadDashboard()).SelectMany(static q => MetricNames(q.Expr)).ToHashSet(StringComparer.Ordinal);
        Assert.True(queried.Count >= 20, $"only {queried.Count} metrics queried");

        // Traffic: a QoS 1 subscriber, QoS 0 and QoS 1 publishes both delivered, a CONNECT refused for its password, a client
        // that disconnects and a stored message.
        await using var subscriber = await ConnectAsync("grafana-subscriber", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("grafana/#", QualityOfService.AtLeastOnce);
        await using var publisher = await ConnectAsync("grafana-publisher", MqttProtocolVersion.V311);
        await publisher.PublishAsync("grafana/qos0", "at most once");
        Assert.Equal("at most once", (await subscriber.ExpectPublishAsync()).PayloadText);
        await publisher.PublishAndWaitAsync("grafana/qos1", "at least once", retain: true);
        var delivered = await subscriber.ExpectPublishAsync();
        Assert.Equal(QualityOfService.AtLeastOnce, delivered.QualityOfService);
        await subscriber.SendAsync(new AckPacket(PacketType.PubAck, delivered.PacketId));
        await publisher.PublishAndWaitAsync("grafana-nobody/here", "no subscriber");

        // A client that disconnects (closed connections by reason), and a QoS 1 message for its offline persistent session,
        // stored before its PUBACK: a storage commit (the commit latency histogram has series only once one happened).
        await using (var offline = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500))
        {
            var persistent = Connect("grafana-offline", MqttProtocolVersion.V500, "alice-secret");
            persistent.CleanStart = false;
            persistent.Properties = new MqttProperties { SessionExpiryInterval = 300 };
            await offline.ConnectAcceptedAsync(persistent);
            await offline.SubscribeAsync("grafana-offline/stored", QualityOfService.AtLeastOnce);
            await offline.DisconnectAsync();
        }

        await publisher.PublishAndWaitAsync("grafana-offline/stored", "kept for an offline session");
        await using (var wrong = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500))
        {
            var refused = await wrong.ConnectRawAsync(Connect("grafana-wrong", MqttProtocolVersion.V500, "not-the-password"));
            Assert.Equal(ReasonCode.BadUserNameOrPassword, refused.ReasonCode);
        }

        // The delivery latency is recorded when the batch is written, which may come just after the subscriber reads it: poll.
        var deadline = DateTime.UtcNow + MqttTestClient.Timeout;
        HashSet<string> exported;
        List<string> missing;
        while (true)
        {
            exported = SeriesNames(await MetricsScrape.ReadAsync(host.Client));
            missing = Missing(queried, exported);
            if (missing.Count == 0 || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(50);
        }

        Assert.True(missing.Count == 0, "the dashboard queries metrics /metrics does not serve: " + string.Join(", ", missing));

        // And the check can fail: a panel on a metric the broker does not export is reported.
        var broken = LoadDashboard();
        broken["panels"]!.AsArray().Add(new JsonObject
        {
            ["id"] = 9999,
            ["type"] = "timeseries",
            ["title"] = "Not exported",
            ["targets"] = new JsonArray(new JsonObject { ["refId"] = "A", ["expr"] = "rate(iothub_not_exported_total[5m])" }),
        });
        var brokenNames = Queries(broken).SelectMany(static q => MetricNames(q.Expr)).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(["iothub_not_exported_total"], Missing(brokenNames, exported));
    }

    [Fact]
    public void Metric_names_are_read_from_promql_without_functions_labels_or_variables()
    {
        const string expr = "histogram_quantile(0.99, sum by (le) (rate(iothub_delivery_latency_seconds_bucket{broker=~\"$broker\"}[$__rate_interval])))"
            + " / on() group_left sum(iothub_sessions{reason=\"iothub_not_a_metric\"})";

        Assert.Equal(["iothub_delivery_latency_seconds_bucket", "iothub_sessions"], MetricNames(expr).Order(StringComparer.Ordinal));
        Assert.Equal(["label_values(iothub_sessions, broker)"], Queries(JsonNode.Parse("""
            {"panels": [], "templating": {"list": [{"type": "query", "name": "broker", "query": {"query": "label_values(iothub_sessions, broker)"}}]}}
            """)!.AsObject()).Select(static q => q.Expr));
    }

    /// <summary>Every PromQL query of the dashboard: panel targets (rows' collapsed panels included) and query variables.</summary>
    private static IEnumerable<(string Where, string Expr)> Queries(JsonObject dashboard)
    {
        foreach (var panel in AllPanels(dashboard))
        {
            foreach (var target in panel["targets"]?.AsArray() ?? [])
            {
                if (target?["expr"]?.GetValue<string>() is { } expr)
                {
                    yield return (panel["title"]?.GetValue<string>() ?? "(untitled)", expr);
                }
            }
        }

        foreach (var variable in dashboard["templating"]?["list"]?.AsArray() ?? [])
        {
            if (variable?["type"]?.GetValue<string>() != "query")
            {
                continue;
            }

            var query = variable["query"];
            var text = query is JsonObject ? query["query"]?.GetValue<string>() : query?.GetValue<string>();
            if (text is not null)
            {
                yield return ("variable " + variable["name"], text);
            }
        }
    }

    private static IEnumerable<JsonObject> AllPanels(JsonObject dashboard)
    {
        var pending = new Stack<JsonNode?>(dashboard["panels"]?.AsArray() ?? []);
        while (pending.TryPop(out var node))
        {
            if (node is not JsonObject panel)
            {
                continue;
            }

            yield return panel;
            foreach (var nested in panel["panels"]?.AsArray() ?? [])
            {
                pending.Push(nested);
            }
        }
    }

    private static bool IsRow(JsonObject panel) => panel["type"]?.GetValue<string>() == "row";

    /// <summary>The iothub_ metric names of a PromQL expression; label values (quoted) are left out.</summary>
    private static IEnumerable<string> MetricNames(string expr) =>
        MetricName().Matches(QuotedString().Replace(expr, "\"\"")).Select(static m => m.Value).Distinct(StringComparer.Ordinal);

    /// <summary>The metric names of a scrape's series, as Prometheus stores them (histograms as _bucket, _sum and _count).</summary>
    private static HashSet<string> SeriesNames(Dictionary<string, double> scrape) =>
        scrape.Keys.Select(static k => k.IndexOf('{', StringComparison.Ordinal) is var brace and >= 0 ? k[..brace] : k).ToHashSet(StringComparer.Ordinal);

    private static List<string> Missing(IEnumerable<string> queried, HashSet<string> exported) =>
        [.. queried.Where(n => !exported.Contains(n)).Order(StringComparer.Ordinal)];

    private static JsonObject LoadDashboard()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "IoTHub.Web.sln")))
        {
            directory = directory.Parent;
        }

        var path = Path.Combine(directory?.FullName ?? throw new InvalidOperationException("IoTHub.Web.sln not found above " + AppContext.BaseDirectory),
            "docs", "grafana", "iothub-dashboard.json");
        return JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false })!.AsObject();
    }

    private async Task<MqttTestClient> ConnectAsync(string clientId, MqttProtocolVersion version)
    {
        var client = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, version);
        await client.ConnectAcceptedAsync(Connect(clientId, version, "alice-secret"));
        return client;
    }

    private static ConnectPacket Connect(string clientId, MqttProtocolVersion version, string password) => new()
    {
        ProtocolVersion = version,
        ClientId = clientId,
        UserName = "alice",
        Password = Encoding.UTF8.GetBytes(password),
    };

    [GeneratedRegex(@"\biothub_[a-z0-9_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex QuotedString();
}
