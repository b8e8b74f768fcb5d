using OpenTelemetry.Metrics;

namespace IoTHub.Web.Metrics;

/// <summary>/metrics in Prometheus text format: the broker meter, ASP.NET Core and the .NET runtime.</summary>
internal static class MetricsSetup
{
    public const string Path = "/metrics";

    public static IServiceCollection AddBrokerMetrics(this IServiceCollection services)
    {
        services.AddSingleton<BrokerMetrics>();
        services.AddOpenTelemetry().WithMetrics(static metrics => metrics
            .AddMeter(BrokerMetrics.MeterName)
            .AddAspNetCoreInstrumentation()
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter(static prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
        return services;
    }

    public static IEndpointRouteBuilder MapMetricsEndpoint(this IEndpointRouteBuilder endpoints)
    {
        // The observable instruments are created with the meter service; resolving it registers them.
        endpoints.ServiceProvider.GetRequiredService<BrokerMetrics>();
        endpoints.MapPrometheusScrapingEndpoint(Path).AllowAnonymous();
        return endpoints;
    }
}
