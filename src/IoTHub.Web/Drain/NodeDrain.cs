using IoTHub.Cluster.Nodes;
using IoTHub.Web.Mqtt;

namespace IoTHub.Web.Drain;

/// <summary>
/// Takes this node out of service for a restart (docs/clustering.md#drain-and-rolling-restarts): readiness answers 503
/// from the first moment; every broker refuses new CONNECTs (0x88 Server unavailable, 3.1.1 return code 3: a CONNACK
/// cannot say "shutting down"), delivers what is queued for up to its Mqtt:DrainTimeout and closes every connection
/// (5.0 clients get DISCONNECT 0x8B Server shutting down, 3.1.1 clients are closed); then a clustered node leaves the
/// membership cleanly (shutting down, then dead) and the others purge its routes. SIGTERM and POST /api/v1/cluster/drain
/// take this one path, once: a second caller waits for the drain under way.
/// </summary>
internal sealed partial class NodeDrain(BrokerRegistry registry, IServiceProvider services, TimeProvider time, ILogger<NodeDrain> logger)
{
    private readonly Lock _lock = new();
    private Task? _drain;

    /// <summary>When the drain began; null while the node serves.</summary>
    public DateTimeOffset? Since { get; private set; }

    /// <summary>Drains this node, or waits for the drain under way.</summary>
    public Task DrainAsync(string cause)
    {
        lock (_lock)
        {
            if (_drain is null)
            {
                Since = time.GetUtcNow();
                Log.Draining(logger, cause);
                _drain = Task.Run(RunAsync);
            }

            return _drain;
        }
    }

    private async Task RunAsync()
    {
        await Task.WhenAll(registry.Brokers.Values.Select(static broker => broker.StopAsync(broker.Options.DrainTimeout)));
        if (services.GetService<INodeLeave>() is { } leave)
        {
            try
            {
                await leave.LeaveAsync(CancellationToken.None);
            }
            catch (Exception e)
            {
                // The admin API does not wait for the drain: said here, or nowhere. The others declare the node dead when it stops.
                Log.LeaveFailed(logger, e);
                throw;
            }
        }

        Log.Drained(logger);
    }

    private static partial class Log
    {
        [LoggerMessage(1520, LogLevel.Warning, "Draining this node ({Cause}): not ready, new MQTT clients refused, connections closed with 0x8B once their queues are delivered")]
        public static partial void Draining(ILogger logger, string cause);

        [LoggerMessage(1522, LogLevel.Error, "Draining: leaving the cluster failed; the other nodes declare this node dead once it stops")]
        public static partial void LeaveFailed(ILogger logger, Exception exception);

        [LoggerMessage(1521, LogLevel.Warning, "Drained: no MQTT connection left and, in a cluster, this node left the membership; it can be stopped")]
        public static partial void Drained(ILogger logger);
    }
}
