using System.Reflection;
using IoTHub.Broker.Diagnostics;
using IoTHub.Web.Configuration;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace IoTHub.Web.Telemetry;

/// <summary>
/// With <c>Telemetry:Otlp:Endpoint</c> set, pushes over OTLP the metrics /metrics serves (the same meter provider, a
/// second reader) and, unless <c>Telemetry:Otlp:Traces</c> is false, a span per MQTT CONNECT and per admin API request.
/// Without it nothing is added: no exporter, no tracer, and the CONNECT path skips its span at the cost of one check.
/// </summary>
internal static class OtlpExport
{
    /// <summary>The admin API, the only HTTP requests traced: the dashboard's, /metrics' and /health's would drown them.</summary>
    public const string TracedPath = "/api";

    // Named, so the metrics and the traces exporter each get their own options (unnamed ones share one).
    private const string MetricsExporterName = "iothub-metrics";
    private const string TracesExporterName = "iothub-traces";

    /// <summary>
    /// Decided as the services are registered, so the settings are read here already; a bad value reads as its default
    /// (no export) and stops the host at start with the others.
    /// </summary>
    public static IServiceCollection AddOtlpExport(this IServiceCollection services, IConfiguration configuration)
    {
        var telemetry = new TelemetryOptions();
        telemetry.Read(new SectionReader(configuration.GetSection(TelemetryOptions.SectionName)));
        var otlp = telemetry.Otlp;
        if (!otlp.Enabled)
        {
            return services;
        }

        var version = typeof(OtlpExport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        var openTelemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(telemetry.ServiceName, serviceVersion: version, autoGenerateServiceInstanceId: true))
            .WithMetrics(metrics => metrics.AddOtlpExporter(MetricsExporterName, (exporter, reader) =>
            {
                Configure(exporter, otlp, "v1/metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = otlp.ExportIntervalMilliseconds;
            }));
        if (otlp.Traces)
        {
            openTelemetry.WithTracing(tracing => tracing
                .AddSource(BrokerTracing.SourceName)
                .AddAspNetCoreInstrumentation(static aspNetCore => aspNetCore.Filter = static context => context.Request.Path.StartsWithSegments(TracedPath))
                .AddOtlpExporter(TracesExporterName, exporter =>
                {
                    Configure(exporter, otlp, "v1/traces");
                    exporter.BatchExportProcessorOptions.ScheduledDelayMilliseconds = otlp.ExportIntervalMilliseconds;
                }));
        }

        return services;
    }

    private static void Configure(OtlpExporterOptions exporter, OtlpOptions otlp, string signalPath)
    {
        exporter.Protocol = otlp.Protocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;

        // Set in code, the endpoint is taken as the whole URL: over HTTP each signal's path is added here, as the
        // OTEL_EXPORTER_OTLP_ENDPOINT variable would have it.
        exporter.Endpoint = otlp.Protocol == OtlpProtocol.Grpc ? otlp.Endpoint! : new Uri(AsFolder(otlp.Endpoint!), signalPath);
        // The exporter takes its headers as one "name=value,..." text that it percent-decodes (as the
        // OTEL_EXPORTER_OTLP_HEADERS variable is written): encoded here, a value with % arrives as configured.
        exporter.Headers = otlp.Headers.Count == 0 ? null
            : string.Join(",", otlp.Headers.Select(static header => $"{header.Key}={Uri.EscapeDataString(header.Value)}"));

        // Our own client: the host's IHttpClientFactory would give one that follows redirects (the headers may hold a
        // key) and logs every export at Information.
        exporter.HttpClientFactory = () => new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false })
        {
            Timeout = TimeSpan.FromMilliseconds(exporter.TimeoutMilliseconds),
        };
    }

    private static Uri AsFolder(Uri endpoint) =>
        endpoint.AbsolutePath.EndsWith('/') ? endpoint : new UriBuilder(endpoint) { Path = endpoint.AbsolutePath + "/" }.Uri;
}
