using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>
/// Runs alone: OpenTelemetry listens to every meter of the process named "IoTHub.Broker", so the
/// hosts of other test classes would report into the same series. One process serves one host in
/// production.
/// </summary>
[CollectionDefinition(nameof(MetricsRunAlone), DisableParallelization = true)]
public sealed class MetricsRunAlone;

/// <summary>/metrics, /health/ready and the OpenAPI document.</summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class ObservabilityTests(AdminApiHost host) : IClassFixture<AdminApiHost>
{
    [Fact]
    public async Task Metrics_follow_real_mqtt_traffic()
    {
        var before = await ScrapeAsync();
        Assert.Contains(before.Keys, static k => k.StartsWith("process_runtime_dotnet_gc_collections_count_total", StringComparison.Ordinal)
            || k.StartsWith("dotnet_gc_collections_total", StringComparison.Ordinal));
        const string Default = "{broker=\"default\"}";
        var received = before.GetValueOrDefault("iothub_messages_received_total" + Default);
        var bytesIn = before.GetValueOrDefault("iothub_network_received_bytes_total" + Default);

        await using var subscriber = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "metrics-subscriber", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("metrics/#");
        await using var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "metrics-publisher");
        for (var i = 0; i < 3; i++)
        {
            await publisher.PublishAndWaitAsync("metrics/topic", "payload " + i, retain: i == 0);
            await subscriber.ExpectPublishAsync();
        }

        var after = await ScrapeAsync();
        Assert.True(after["iothub_messages_received_total" + Default] >= received + 3);
        Assert.True(after["iothub_network_received_bytes_total" + Default] > bytesIn);
        Assert.True(after["iothub_messages_delivered_total" + Default] >= 3);
        Assert.True(after["iothub_connections{broker=\"default\",protocol=\"5.0\"}"] >= 1);
        Assert.True(after["iothub_connections{broker=\"default\",protocol=\"3.1.1\"}"] >= 1);
        Assert.True(after["iothub_subscriptions" + Default] >= 1);
        Assert.True(after["iothub_retained_messages" + Default] >= 1);
        Assert.Contains("iothub_messages_dropped_total{broker=\"default\",reason=\"queue_full\"}", after.Keys);
    }

    [Fact]
    public async Task Failed_admin_logins_are_counted()
    {
        var before = (await ScrapeAsync()).GetValueOrDefault("iothub_auth_failures_total{kind=\"admin_login\"}");

        await host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "admin", password = "not-the-password" });

        Assert.Equal(before + 1, (await ScrapeAsync())["iothub_auth_failures_total{kind=\"admin_login\"}"]);
    }

    [Fact]
    public async Task Ready_checks_listeners_and_storage()
    {
        var response = await host.Client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_openapi_document_lists_every_endpoint_with_its_security()
    {
        var document = await host.Client.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");

        var paths = document.GetProperty("paths");
        string[] expected =
        [
            "/api/v1/auth/login", "/api/v1/accounts", "/api/v1/brokers", "/api/v1/brokers/{name}", "/api/v1/listeners", "/api/v1/clients",
            "/api/v1/clients/{clientId}", "/api/v1/clients/{clientId}/disconnect", "/api/v1/sessions", "/api/v1/sessions/{clientId}",
            "/api/v1/subscriptions", "/api/v1/retained", "/api/v1/retained/{topic}", "/api/v1/publish", "/api/v1/statistics", "/api/v1/api-keys", "/api/v1/api-keys/{id}", "/api/v1/audit",
        ];
        foreach (var path in expected)
        {
            Assert.True(paths.TryGetProperty(path, out _), $"{path} is missing");
        }

        Assert.True(document.GetProperty("components").GetProperty("securitySchemes").TryGetProperty("Bearer", out _));
        Assert.True(document.GetProperty("components").GetProperty("securitySchemes").TryGetProperty("ApiKey", out _));
        var publish = paths.GetProperty("/api/v1/publish").GetProperty("post");
        Assert.True(publish.TryGetProperty("security", out _));
        Assert.True(publish.GetProperty("responses").TryGetProperty("403", out _));
        Assert.True(publish.GetProperty("responses").TryGetProperty("400", out _));
        Assert.False(paths.GetProperty("/api/v1/auth/login").GetProperty("post").TryGetProperty("security", out _));
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.TryGetProperty("ClientSummaryPage", out _));
        var topic = schemas.GetProperty("PublishRequest").GetProperty("properties").GetProperty("topic");
        Assert.False(string.IsNullOrEmpty(topic.GetProperty("description").GetString()));
    }

    [Fact]
    public async Task The_swagger_ui_is_served()
    {
        var response = await host.Client.GetAsync("/swagger/index.html");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("swagger-ui", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>The samples of /metrics by series (name with labels, without the scope label), parsed from the text format.</summary>
    private async Task<Dictionary<string, double>> ScrapeAsync()
    {
        var text = await host.Client.GetStringAsync("/metrics");
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            var series = line[..space];
            // OpenTelemetry adds otel_scope_* labels; leave them out so the tests name series as Prometheus users do.
            series = System.Text.RegularExpressions.Regex.Replace(series, "otel_scope_[a-z_]+=\"[^\"]*\",?", string.Empty).Replace("{}", string.Empty, StringComparison.Ordinal);
            if (double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                samples[series] = value;
            }
        }

        return samples;
    }
}
