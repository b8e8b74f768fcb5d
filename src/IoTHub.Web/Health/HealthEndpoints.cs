using Microsoft.AspNetCore.Diagnostics.HealthChecks;

namespace IoTHub.Web.Health;

internal static class HealthEndpoints
{
    private const string ReadyTag = "ready";

    public static IServiceCollection AddHealth(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<ListenersBoundCheck>("listeners", tags: [ReadyTag])
            .AddCheck<ServingCheck>("serving", tags: [ReadyTag])
            .AddCheck<StorageReachableCheck>("storage", tags: [ReadyTag])
            .AddCheck<AuthenticationBackendsCheck>("authentication_backends", tags: [ReadyTag]);
        return services;
    }

    /// <summary>
    /// GET /health/live answers "Healthy" while the process serves requests; it runs no checks.
    /// GET /health/ready runs the readiness checks (listeners bound, the node serving: not draining, not fenced for a lost
    /// membership store; storage reachable): 200 or 503; 200 "Degraded" while an
    /// authentication backend fails (the broker still serves the clients other authenticators and the cache decide).
    /// Both are open to anonymous callers (probes carry no token).
    /// </summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = static _ => false }).AllowAnonymous();
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = static check => check.Tags.Contains(ReadyTag) }).AllowAnonymous();
        return endpoints;
    }
}
