using IoTHub.Broker.Diagnostics;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry.Exporter;
using OpenTelemetry.Trace;

namespace IoTHub.Web.Tests.Telemetry;

/// <summary>A host that exports over OTLP/HTTP to a collector the test runs, every 200 ms, with an API key header.</summary>
public class OtlpHost : AdminApiHost
{
    /// <summary>A space, a percent sign and an equals sign: each must arrive as written.</summary>
    public const string ApiKey = "otlp key%41=";

    public OtlpHost()
        : this(OtlpReceiver.Start(), [])
    {
    }

    private protected OtlpHost(OtlpReceiver receiver, Dictionary<string, string> settings)
        : base(new Dictionary<string, string>(settings)
        {
            ["Telemetry:Otlp:Endpoint"] = receiver.Endpoint.ToString(),
            ["Telemetry:Otlp:ExportIntervalMilliseconds"] = "200",
            ["Telemetry:Otlp:Headers:X-Api-Key"] = ApiKey,
        })
    {
        Receiver = receiver;
    }

    internal OtlpReceiver Receiver { get; }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            Receiver.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}

/// <summary>
/// Telemetry:Otlp (issue 25): the broker's metrics, a span per MQTT CONNECT and per admin API request reach a real
/// OTLP/HTTP receiver, read back from the protobuf bodies. Runs alone (see <see cref="MetricsRunAlone"/>).
/// </summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class OtlpExportTests(OtlpHost host) : IClassFixture<OtlpHost>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Broker_metrics_after_mqtt_traffic_reach_the_collector_under_the_names_metrics_serves()
    {
        await using (var client = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "otlp-metrics", MqttProtocolVersion.V500))
        {
            await client.SubscribeAsync("otlp/#");
            await client.PublishAsync("otlp/metrics", "exported");
            Assert.Equal("exported", (await client.ExpectPublishAsync()).PayloadText);
        }

        // Cumulative counters: an export after the traffic carries it.
        await host.Receiver.WaitForAsync("export with the traffic", static r =>
            r.Metrics.Exists(static m => m.Name == "iothub.connections.accepted" && m.Total >= 1)
            && r.Metrics.Exists(static m => m.Name == "iothub.messages.delivered" && m.Total >= 1), Timeout);

        var exported = host.Receiver.Metrics.Where(static m => m.Scope == "IoTHub.Broker").Select(static m => m.Name).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("iothub.connections", exported);
        Assert.Contains("iothub.messages.received", exported);
        Assert.True(exported.Count >= 15, "only " + string.Join(", ", exported));
        var scraped = (await MetricsScrape.ReadAsync(host.Client)).Keys.Select(static series => series.Split('{')[0]).ToHashSet(StringComparer.Ordinal);
        foreach (var name in exported)
        {
            // Prometheus writes iothub.connections.accepted as iothub_connections_accepted_total.
            var prometheus = name.Replace('.', '_');
            Assert.True(scraped.Any(series => series.StartsWith(prometheus, StringComparison.Ordinal)), $"{name} is exported over OTLP but not on /metrics");
        }

        Assert.Contains(host.Receiver.Metrics, static m => m.Name.StartsWith("http.server.", StringComparison.Ordinal) && m.Scope == "Microsoft.AspNetCore.Hosting");
        var resource = host.Receiver.Metrics.First().Resource;
        Assert.Equal("iothub", resource["service.name"]);
        Assert.False(string.IsNullOrEmpty(resource.GetValueOrDefault("service.version")), "no service.version");
        Assert.True(Guid.TryParse(resource.GetValueOrDefault("service.instance.id"), out _), "no service.instance.id");
        Assert.Equal(OtlpHost.ApiKey, host.Receiver.Headers["X-Api-Key"]);
        Assert.All(host.Receiver.ContentTypes, static type => Assert.Equal("application/x-protobuf", type));
    }

    [Fact]
    public async Task Mqtt_connects_and_admin_api_requests_are_spans_at_the_collector()
    {
        await using (await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "otlp-traced", MqttProtocolVersion.V500))
        {
        }

        const string TooLong = "otlp-refused-an-mqtt-3.1-id-over-23";
        await using (var refused = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V310))
        {
            var connAck = await refused.ConnectRawAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V310, ClientId = TooLong, CleanStart = true });
            Assert.Equal(ReasonCode.ClientIdentifierNotValid, connAck.ReasonCode);
        }

        // Neither /metrics nor /health is traced; both end before the API request starts, so they would be exported first.
        await host.Client.GetStringAsync("/metrics");
        await host.Client.GetStringAsync("/health/live");
        var admin = await host.AdminAsync();
        (await admin.GetAsync("/api/v1/clients?clientId=otlp")).EnsureSuccessStatusCode();

        await host.Receiver.WaitForAsync("CONNECT spans and the API request's", static r =>
            r.Spans.Exists(static s => s.Attributes.GetValueOrDefault("mqtt.client_id") == "otlp-traced")
            && r.Spans.Exists(static s => s.Attributes.GetValueOrDefault("mqtt.client_id") == TooLong)
            && r.Spans.Exists(static s => s.Attributes.GetValueOrDefault("url.path") == "/api/v1/clients"), Timeout);

        var spans = host.Receiver.Spans;
        var accepted = Assert.Single(spans, static s => s.Attributes.GetValueOrDefault("mqtt.client_id") == "otlp-traced");
        Assert.Equal((BrokerTracing.ConnectSpanName, BrokerTracing.SourceName), (accepted.Name, accepted.Scope));
        Assert.Equal("5.0", accepted.Attributes["mqtt.protocol_version"]);
        Assert.Equal("0", accepted.Attributes["mqtt.connect.reason_code"]);
        Assert.Equal($"tcp://{host.MqttEndpoint}", accepted.Attributes["mqtt.listener"]);
        Assert.Equal("default", accepted.Attributes["mqtt.broker"]);
        Assert.Equal("iothub", accepted.Resource["service.name"]);

        var refusedSpan = Assert.Single(spans, static s => s.Attributes.GetValueOrDefault("mqtt.client_id") == TooLong);
        Assert.Equal("3.1", refusedSpan.Attributes["mqtt.protocol_version"]);
        Assert.Equal(((int)ReasonCode.ClientIdentifierNotValid).ToString(System.Globalization.CultureInfo.InvariantCulture), refusedSpan.Attributes["mqtt.connect.reason_code"]);

        var request = Assert.Single(spans, static s => s.Attributes.GetValueOrDefault("url.path") == "/api/v1/clients");
        Assert.Equal("Microsoft.AspNetCore", request.Scope);
        Assert.Equal("200", request.Attributes["http.response.status_code"]);
        Assert.DoesNotContain(spans, static s => s.Attributes.TryGetValue("url.path", out var path) && !path.StartsWith("/api/", StringComparison.Ordinal));
    }

    [Fact]
    public void The_exporters_are_registered_when_an_endpoint_is_set()
    {
        // The other side of OtlpOffTests' check.
        Assert.NotNull(host.Services.GetService<TracerProvider>());
        Assert.NotEmpty(host.Services.GetServices<IConfigureOptions<OtlpExporterOptions>>());
    }
}

/// <summary>Metrics only (Traces=false), over OTLP/gRPC.</summary>
public sealed class OtlpGrpcMetricsHost() : OtlpHost(OtlpReceiver.Start(grpc: true), new() { ["Telemetry:Otlp:Protocol"] = "grpc", ["Telemetry:Otlp:Traces"] = "false" });

/// <summary>Telemetry:Otlp:Protocol=grpc with Traces=false: the metrics reach a gRPC collector, and no tracer exists.</summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class OtlpGrpcTests(OtlpGrpcMetricsHost host) : IClassFixture<OtlpGrpcMetricsHost>
{
    [Fact]
    public async Task Metrics_reach_a_grpc_collector_and_no_span_is_made()
    {
        await using (await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "otlp-grpc"))
        {
            await host.Receiver.WaitForAsync("accepted connection over gRPC", static r =>
                r.Metrics.Exists(static m => m.Name == "iothub.connections.accepted" && m.Total >= 1), TimeSpan.FromSeconds(20));
        }

        Assert.Equal("iothub", host.Receiver.Metrics.First().Resource["service.name"]);
        Assert.Equal(OtlpHost.ApiKey, host.Receiver.Headers["X-Api-Key"]);
        Assert.All(host.Receiver.ContentTypes, static type => Assert.StartsWith("application/grpc", type, StringComparison.Ordinal));
        Assert.Null(host.Services.GetService<TracerProvider>());
        Assert.Empty(host.Receiver.Spans);
    }
}

/// <summary>The default: no Telemetry:Otlp:Endpoint, no exporter, no tracer, and /metrics as before.</summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class OtlpOffTests(KestrelHost host) : IClassFixture<KestrelHost>
{
    [Fact]
    public async Task Without_an_endpoint_nothing_is_exported_and_metrics_serves_the_broker()
    {
        Assert.Null(host.Services.GetService<TracerProvider>());
        Assert.Empty(host.Services.GetServices<IConfigureOptions<OtlpExporterOptions>>());

        await using (await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "otlp-off"))
        {
            var scraped = await MetricsScrape.ReadAsync(host.Client);
            Assert.True(scraped.GetValueOrDefault("iothub_connections_accepted_total{broker=\"default\"}") >= 1,
                "no accepted connection on /metrics: " + string.Join(", ", scraped.Keys.Where(static k => k.StartsWith("iothub_connections", StringComparison.Ordinal))));
        }
    }
}
