using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Broker;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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
    private const string Default = "{broker=\"default\"}";

    private MqttBroker Broker => host.Services.GetRequiredService<MqttBroker>();

    private static string Qos(int qos) => $"{{broker=\"default\",qos=\"{qos}\"}}";

    private static string Dropped(string reason) => $"iothub_messages_dropped_total{{broker=\"default\",reason=\"{reason}\"}}";

    private string Connections(string protocol) => $"iothub_connections{{broker=\"default\",listener=\"tcp://{host.MqttEndpoint}\",protocol=\"{protocol}\"}}";

    /// <summary>
    /// What an idle MQTT connection must not pay for (issue 19): Kestrel's meter, which would give every connection a tag
    /// list and a duration record (the broker meter counts connections itself), and a captured logging scope, which
    /// would live as long as the connection while the console does not write scopes.
    /// </summary>
    [Fact]
    public async Task Connections_pay_for_no_kestrel_meter_and_no_logging_scope()
    {
        await using var client = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "no-kestrel-meter");
        (await host.Client.GetAsync(new Uri("/health/ready", UriKind.Relative))).EnsureSuccessStatusCode();
        var series = await ScrapeAsync();
        Assert.Contains(series.Keys, static k => k.StartsWith("iothub_connections", StringComparison.Ordinal));
        Assert.Contains(series.Keys, static k => k.StartsWith("http_server_request_duration", StringComparison.Ordinal));
        Assert.DoesNotContain(series.Keys, static k => k.StartsWith("kestrel_", StringComparison.Ordinal));
        Assert.False(host.Services.GetRequiredService<IOptions<LoggerFilterOptions>>().Value.CaptureScopes);
    }

    [Fact]
    public async Task Metrics_follow_real_mqtt_traffic()
    {
        var before = await ScrapeAsync();
        Assert.Contains(before.Keys, static k => k.StartsWith("process_runtime_dotnet_gc_collections_count_total", StringComparison.Ordinal)
            || k.StartsWith("dotnet_gc_collections_total", StringComparison.Ordinal));
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
        double Delta(string series) => after[series] - before.GetValueOrDefault(series);

        // Published at QoS 1 by a 3.1.1 client (2 + 2 + 13 + 2 + 9 bytes each), delivered at QoS 0 to a 5.0 one (2 + 2 + 13 + 1 + 9).
        Assert.Equal(3, Delta("iothub_messages_received_total" + Qos(1)));
        Assert.Equal(0, Delta("iothub_messages_received_total" + Qos(0)));
        Assert.Equal(3 * 28, Delta("iothub_publish_received_bytes_total" + Qos(1)));
        Assert.Equal(3, Delta("iothub_messages_delivered_total" + Qos(0)));
        Assert.Equal(3 * 27, Delta("iothub_publish_sent_bytes_total" + Qos(0)));
        Assert.Equal(0, Delta("iothub_messages_delivered_total" + Qos(2)));
        Assert.True(after["iothub_network_received_bytes_total" + Default] > bytesIn);
        Assert.Equal(1, after[Connections("5.0")]);
        Assert.Equal(1, after[Connections("3.1.1")]);
        Assert.Equal(0, after[Connections("3.1")]);
        Assert.True(after["iothub_subscriptions" + Default] >= 1);
        Assert.True(after["iothub_retained_messages" + Default] >= 1);

        // Each message went alone, so each delivery was a written batch of its own: three observations, all within the last bucket (5 s).
        Assert.Equal(3, Delta("iothub_delivery_latency_seconds_count" + Default));
        Assert.Equal(3, Delta("iothub_delivery_latency_seconds_bucket{broker=\"default\",le=\"5\"}"));
        Assert.True(Delta("iothub_delivery_latency_seconds_sum" + Default) > 0);
        Assert.Contains("iothub_delivery_latency_seconds_bucket{broker=\"default\",le=\"5E-05\"}", after.Keys);
        foreach (var reason in new[] { "queue_full", "expired", "too_large", "offline_qos0", "session_ended", "publish_refused", "no_subscribers", "broker_stopping" })
        {
            Assert.Contains(Dropped(reason), after.Keys);
        }
    }

    [Fact]
    public async Task Dropped_messages_are_counted_by_reason_after_real_traffic()
    {
        var before = await ScrapeAsync();
        await using var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "drops-publisher", MqttProtocolVersion.V500);

        // too_large: a 5.0 subscriber that takes packets of 64 bytes at most. The small message after the big one shows the big one was handled.
        await using (var small = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "drops-small", MqttProtocolVersion.V500,
            properties: new MqttProperties { MaximumPacketSize = 64 }))
        {
            await small.SubscribeAsync("drops/size/#");
            await publisher.PublishAndWaitAsync("drops/size/big", new string('b', 200));
            await publisher.PublishAndWaitAsync("drops/size/small", "fits");
            Assert.Equal("fits", (await small.ExpectPublishAsync()).PayloadText);
        }

        // expired and offline_qos0: a persistent session offline while a message with a 1 s expiry and a QoS 0 message come.
        var sessionExpiry = new MqttProperties { SessionExpiryInterval = 300 };
        await using (var offline = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "drops-offline", MqttProtocolVersion.V500, cleanStart: false, sessionExpiry))
        {
            await offline.SubscribeAsync("drops/offline", QualityOfService.AtLeastOnce);
            await offline.DisconnectAsync();
        }

        await Poll.UntilAsync(() => Broker.FindSession("drops-offline") is { IsConnected: false });
        await publisher.PublishAsync("drops/offline", "expires", QualityOfService.AtLeastOnce, properties: new MqttProperties { MessageExpiryInterval = 1 });
        await publisher.ExpectAckAsync(PacketType.PubAck);
        await publisher.PublishAsync("drops/offline", "qos 0 for an offline session");
        var expiredAt = DateTime.UtcNow.AddSeconds(1.2);
        await Poll.UntilAsync(() => DateTime.UtcNow > expiredAt);
        await using (var back = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "drops-offline", MqttProtocolVersion.V500, cleanStart: false, sessionExpiry))
        {
            await publisher.PublishAndWaitAsync("drops/offline", "after the expired one");
            var delivered = await back.ExpectPublishAsync();
            Assert.Equal("after the expired one", delivered.PayloadText);
            await back.SendAsync(new AckPacket(PacketType.PubAck, delivered.PacketId));
            await back.DisconnectAsync();
        }

        // session_ended: the session, offline with one queued message, is ended by a clean start.
        await Poll.UntilAsync(() => Broker.FindSession("drops-offline") is { IsConnected: false });
        await publisher.PublishAndWaitAsync("drops/offline", "queued, then thrown away");
        await using (var clean = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "drops-offline", MqttProtocolVersion.V500, cleanStart: true))
        {
            await clean.DisconnectAsync();
        }

        // no_subscribers and publish_refused.
        await publisher.PublishAndWaitAsync("drops/nobody", "goes nowhere");
        await using (var v3 = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "drops-v3"))
        {
            await v3.PublishAndWaitAsync("$reserved/topic", "refused, acknowledged all the same in 3.1.1");
        }

        // An MQTT authentication failure: a method no provider offers.
        await using (var auth = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500))
        {
            var refused = await auth.ConnectRawAsync(new ConnectPacket
            {
                ProtocolVersion = MqttProtocolVersion.V500,
                ClientId = "drops-auth",
                Properties = new MqttProperties { AuthenticationMethod = "SCRAM-SHA-256" },
            });
            Assert.Equal(ReasonCode.BadAuthenticationMethod, refused.ReasonCode);
        }

        var after = await ScrapeAsync();
        double Delta(string series) => after[series] - before.GetValueOrDefault(series);
        Assert.Equal(1, Delta(Dropped("too_large")));
        Assert.Equal(1, Delta(Dropped("expired")));
        Assert.Equal(1, Delta(Dropped("offline_qos0")));
        Assert.Equal(1, Delta(Dropped("session_ended")));
        Assert.Equal(1, Delta(Dropped("no_subscribers")));
        Assert.Equal(1, Delta(Dropped("publish_refused")));
        Assert.Equal(0, Delta(Dropped("queue_full")));
        Assert.Equal(1, Delta("iothub_auth_failures_total{broker=\"default\",kind=\"mqtt_connect\"}"));
    }

    [Fact]
    public async Task Failed_admin_logins_are_counted()
    {
        var before = (await ScrapeAsync()).GetValueOrDefault("iothub_auth_failures_total{kind=\"admin_login\"}");

        await host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "admin", password = "not-the-password" });

        Assert.Equal(before + 1, (await ScrapeAsync())["iothub_auth_failures_total{kind=\"admin_login\"}"]);
    }

    [Fact]
    public async Task Without_clustering_no_series_has_a_node_label()
    {
        var scrape = await host.Client.GetStringAsync("/metrics");

        Assert.Contains("iothub_connections", scrape, StringComparison.Ordinal);
        Assert.DoesNotContain("node=", scrape, StringComparison.Ordinal);
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
            "/api/v1/mqtt-users", "/api/v1/mqtt-users/{userName}", "/api/v1/mqtt-users/import", "/api/v1/mqtt-users/{userName}/roles", "/api/v1/roles",
            "/api/v1/roles/{name}", "/api/v1/acl-rules", "/api/v1/acl-rules/{id}", "/api/v1/cluster", "/api/v1/cluster/drain",
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
        var drain = paths.GetProperty("/api/v1/cluster/drain").GetProperty("post");
        Assert.True(drain.GetProperty("responses").TryGetProperty("202", out _));
        Assert.True(drain.GetProperty("responses").TryGetProperty("403", out _));
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.TryGetProperty("ClientSummaryPage", out _));
        var topic = schemas.GetProperty("PublishRequest").GetProperty("properties").GetProperty("topic");
        Assert.False(string.IsNullOrEmpty(topic.GetProperty("description").GetString()));
    }

    /// <summary>What a client generator needs: ids, typed successes and errors, security, and examples.</summary>
    [Fact]
    public async Task Every_operation_has_an_id_typed_responses_problem_details_for_errors_security_and_examples()
    {
        var document = await host.Client.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");
        var schemas = document.GetProperty("components").GetProperty("schemas");
        var operationIds = new HashSet<string>(StringComparer.Ordinal);
        var operations = 0;
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                operations++;
                var name = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                var op = operation.Value;
                Assert.True(op.TryGetProperty("operationId", out var id) && operationIds.Add(id.GetString()!), $"{name}: no unique operationId");
                if (op.TryGetProperty("requestBody", out var body))
                {
                    AssertExample(schemas, body.GetProperty("content").GetProperty("application/json").GetProperty("schema"), name + " request");
                }

                var anonymous = path.Name == "/api/v1/auth/login";
                Assert.Equal(!anonymous, op.TryGetProperty("security", out var security));
                if (!anonymous)
                {
                    var schemes = security.EnumerateArray().SelectMany(static r => r.EnumerateObject().Select(static p => p.Name)).Order().ToArray();
                    Assert.Equal(["ApiKey", "Bearer"], schemes);
                    Assert.True(op.GetProperty("responses").TryGetProperty("401", out _), $"{name}: no 401");
                }

                foreach (var response in op.GetProperty("responses").EnumerateObject())
                {
                    var status = int.Parse(response.Name, CultureInfo.InvariantCulture);
                    var hasContent = response.Value.TryGetProperty("content", out var content);
                    if (status is 204)
                    {
                        Assert.False(hasContent, $"{name} {status}: 204 has no body");
                    }
                    else if (status < 300)
                    {
                        AssertExample(schemas, content.GetProperty("application/json").GetProperty("schema"), $"{name} {status}");
                    }
                    else
                    {
                        var problem = content.GetProperty("application/problem+json").GetProperty("schema").GetProperty("$ref").GetString();
                        Assert.True(problem is "#/components/schemas/ProblemDetails" or "#/components/schemas/HttpValidationProblemDetails", $"{name} {status}: {problem}");
                        AssertExample(schemas, content.GetProperty("application/problem+json").GetProperty("schema"), $"{name} {status}");
                    }
                }
            }
        }

        Assert.True(operations >= 26);
    }

    private static void AssertExample(JsonElement schemas, JsonElement schema, string where)
    {
        var reference = schema.GetProperty("$ref").GetString()!;
        var target = schemas.GetProperty(reference["#/components/schemas/".Length..]);
        Assert.True(target.TryGetProperty("example", out var example) && example.ValueKind == JsonValueKind.Object, $"{where}: {reference} has no example");
        foreach (var property in example.EnumerateObject())
        {
            Assert.True(target.GetProperty("properties").TryGetProperty(property.Name, out _), $"{where}: example property {property.Name} is not in {reference}");
        }
    }

    [Fact]
    public async Task The_swagger_ui_is_served()
    {
        var response = await host.Client.GetAsync("/swagger/index.html");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("swagger-ui", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>The samples of /metrics by series (name with labels, without the scope label), parsed from the text format.</summary>
    // Issue 26: an offline device whose queue (1 000 by default) is full shows in iothub_sessions_full and in the
    // sessions API, and its drops are counted; taking it out of the broker takes it out of the gauge.
    [Fact]
    public async Task A_session_whose_queue_is_full_is_shown_by_the_metrics_and_the_api()
    {
        var before = await ScrapeAsync();
        await using (var device = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "full-device", cleanStart: false))
        {
            await device.SubscribeAsync("full/cmd", QualityOfService.AtLeastOnce);
            await device.DisconnectAsync();
        }

        await Poll.UntilAsync(() => Broker.FindSession("full-device") is { IsConnected: false });
        var limit = Broker.Options.MaximumQueuedMessages;
        await using (var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "full-publisher"))
        {
            for (var i = 0; i < limit + 3; i++)
            {
                await publisher.PublishAndWaitAsync("full/cmd", "c");
            }
        }

        var after = await ScrapeAsync();
        Assert.Equal(1, after["iothub_sessions_full" + Default] - before.GetValueOrDefault("iothub_sessions_full" + Default));
        Assert.Equal(3, after[Dropped("queue_full")] - before.GetValueOrDefault(Dropped("queue_full")));

        var admin = await host.AdminAsync();
        var full = await admin.GetFromJsonAsync<JsonElement>("/api/v1/sessions?queueFull=true");
        var session = Assert.Single(full.GetProperty("items").EnumerateArray(), static s => s.GetProperty("clientId").GetString() == "full-device");
        Assert.Equal(limit, session.GetProperty("queuedMessages").GetInt32());
        Assert.Equal(3, session.GetProperty("queueFullDrops").GetInt64());
        var notFull = await admin.GetFromJsonAsync<JsonElement>("/api/v1/sessions?queueFull=false");
        Assert.DoesNotContain(notFull.GetProperty("items").EnumerateArray(), static s => s.GetProperty("clientId").GetString() == "full-device");

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/sessions/full-device")).StatusCode);
        Assert.Equal(before.GetValueOrDefault("iothub_sessions_full" + Default), (await ScrapeAsync())["iothub_sessions_full" + Default]);
    }

    private Task<Dictionary<string, double>> ScrapeAsync() => MetricsScrape.ReadAsync(host.Client);
}
