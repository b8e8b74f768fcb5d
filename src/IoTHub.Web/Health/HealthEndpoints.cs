using Microsoft.AspNetCore.Diagnostics.HealthChecks;

namespace IoTHub.Web.Health;

internal static class HealthEndpoints
{
    public static IServiceCollection AddHealth(this IServiceCollection services)
    {
        services.AddHealthChecks();
        return services;
    }

    /// <summary>GET /health/live answers "Healthy" while the process serves requests; it runs no checks.</summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = static _ => false });
        return endpoints;
    }
}
