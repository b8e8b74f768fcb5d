using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;
using IoTHub.Broker.Storage;
using IoTHub.Web.Cluster;
using IoTHub.Web.Configuration;
using IoTHub.Web.Drain;
using IoTHub.Web.Hosting;
using IoTHub.Web.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Health;

/// <summary>Ready once the server has started and every HTTP and MQTT listener holds its port.</summary>
internal sealed class ListenersBoundCheck(BoundListeners listeners, IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!lifetime.ApplicationStarted.IsCancellationRequested)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("the server has not started yet"));
        }

        var mqtt = listeners.Mqtt.ToList();
        var http = listeners.Http.Select(static h => h.Endpoint).ToList();
        var unbound = http.Count(static endpoint => endpoint.Port == 0) + mqtt.Count(static m => !m.IsBound);
        var data = new Dictionary<string, object>
        {
            ["http"] = string.Join(", ", http),
            ["mqtt"] = string.Join(", ", mqtt.Select(static m => $"{m.Broker}={m.Endpoint}")),
        };
        return Task.FromResult(unbound == 0
            ? HealthCheckResult.Healthy("every listener is bound", data)
            : HealthCheckResult.Unhealthy($"{unbound} listener(s) not bound", data: data));
    }
}

/// <summary>
/// Ready while this node serves MQTT clients: not while it drains for a restart, nor, in a cluster, while it has lost the
/// membership store (docs/clustering.md#split-brain).
/// </summary>
internal sealed class ServingCheck(NodeDrain drain, IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(drain.Since is { } since ? HealthCheckResult.Unhealthy($"draining since {since:O}")
            : services.GetService<BrokersFence>()?.Reason is { } fenced ? HealthCheckResult.Unhealthy(fenced)
            : HealthCheckResult.Healthy("serving MQTT clients"));
}

/// <summary>
/// Ready when the store is open, its last write did not fail (a full disk, a lost database), and, for
/// a database, a connection to it succeeds now.
/// </summary>
internal sealed class StorageReachableCheck(IServiceProvider services, IOptions<StorageOptions> storage, BrokerDatabase database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var provider = storage.Value.Provider.ToString().ToLowerInvariant();
        try
        {
            // Throws until the store has been opened at start.
            services.GetRequiredService<IBrokerStore>();
        }
        catch (InvalidOperationException e)
        {
            return HealthCheckResult.Unhealthy($"{provider}: {e.Message}");
        }

        if (services.GetRequiredService<StorageWriter>() is { Failing: true } writer)
        {
            return HealthCheckResult.Unhealthy($"{provider}: the last write failed: {writer.LastFailure?.Message}");
        }

        if (database.Contexts is { } contexts)
        {
            await using var dbContext = await contexts.CreateDbContextAsync(cancellationToken);
            if (!await dbContext.Database.CanConnectAsync(cancellationToken))
            {
                return HealthCheckResult.Unhealthy($"{provider}: the database cannot be reached");
            }
        }

        return HealthCheckResult.Healthy($"{provider} is reachable");
    }
}

/// <summary>Degraded while an authenticator's backend fails (from a failure until it answers again), with what and why.</summary>
internal sealed class AuthenticationBackendsCheck(AuthenticationChain chain) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var backends = chain.Authenticators.OfType<BackendAuthenticator>().ToList();
        var problems = backends.Select(static b => b.Problem).OfType<string>().ToList();
        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy(backends.Count == 0 ? "no authentication backend" : "every authentication backend answers")
            : HealthCheckResult.Degraded(string.Join(" ", problems)));
    }
}
