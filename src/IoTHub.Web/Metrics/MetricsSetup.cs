using IoTHub.Web.Alarms;
using IoTHub.Web.Cluster;
using IoTHub.Web.Metrics.History;
using OpenTelemetry.Metrics;

namespace IoTHub.Web.Metrics;

/// <summary>
/// /metrics in Prometheus text format: the broker meter (and the cluster's, with clustering on), ASP.NET Core and the .NET
/// runtime, each series with a <c>node</c> label in a cluster (<see cref="NodeLabel"/>); the in-process metrics history and the
/// alarms it checks.
/// </summary>
internal static class MetricsSetup
{
    public const string Path = "/metrics";

    /// <summary>
    /// ASP.NET Core's meters for the web platform's requests. Kestrel's own meter is left out: it measures every MQTT
    /// connection too (the broker meter does that already), and listened to it costs each connection a tag list and
    /// a duration record.
    /// </summary>
    private static readonly string[] AspNetCoreMeters =
        ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Routing", "Microsoft.AspNetCore.Diagnostics", "Microsoft.AspNetCore.RateLimiting"];

    public static IServiceCollection AddBrokerMetrics(this IServiceCollection services)
    {
        services.AddSingleton<BrokerMetrics>();
        // The observable instruments are created with the meter service, once settings are valid.
        services.AddHostedService<InstrumentsCreator>();
        services.AddSingleton<MetricsHistory>();
        services.AddSingleton<AlarmBoard>();
        services.AddSingleton<AlarmChecks>();
        services.AddSingleton<DeliveryLatencyTally>();
        services.AddSingleton<HistorySampler>();
        services.AddHostedService(static s => s.GetRequiredService<HistorySampler>());
        services.AddOpenTelemetry().WithMetrics(static metrics => metrics
            .AddMeter(BrokerMetrics.MeterName, ClusterMetrics.MeterName)
            .AddMeter(AspNetCoreMeters)
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter(static prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
        return services;
    }

    public static IEndpointRouteBuilder MapMetricsEndpoint(this IEndpointRouteBuilder endpoints)
    {
        var node = endpoints.ServiceProvider.GetService<NodeLabel>();
        endpoints.MapPrometheusScrapingEndpoint(Path, meterProvider: null,
            configureBranchedPipeline: node is null ? null : scrape => scrape.Use(node.LabelScrapeAsync), optionsName: null).AllowAnonymous();
        return endpoints;
    }

    private sealed class InstrumentsCreator(BrokerMetrics metrics) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(metrics);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
