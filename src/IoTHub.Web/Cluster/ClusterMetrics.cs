using System.Diagnostics.Metrics;
using IoTHub.Cluster.Routing;

namespace IoTHub.Web.Cluster;

/// <summary>
/// The meter "IoTHub.Cluster", with clustering on: what cross-node routing forwarded to the other nodes, dropped, lost and has
/// waiting, the acknowledgements held for them and withheld, and what it received from them (docs/clustering.md), read from its
/// queues when metrics are collected; nothing is counted per message for it.
/// </summary>
internal sealed class ClusterMetrics : IHostedService
{
    public const string MeterName = "IoTHub.Cluster";

    public ClusterMetrics(IMeterFactory meters, ClusterRouting routing)
    {
        var meter = meters.Create(MeterName);
        meter.CreateObservableCounter("iothub.cluster.forwarded", () => routing.Totals().Forwarded, "{message}",
            "Messages this node forwarded to another node that the other node took.");
        meter.CreateObservableCounter("iothub.cluster.forward.dropped", () => routing.Totals().Dropped, "{message}",
            "Messages for another node dropped at once because its queue here was full.");
        meter.CreateObservableCounter("iothub.cluster.forward.lost", () => routing.Totals().Lost, "{message}",
            "Messages in calls to another node that failed or timed out, or queued for a node declared dead: maybe delivered, maybe not.");
        meter.CreateObservableUpDownCounter("iothub.cluster.forward.queued", () => routing.Totals().Queued, "{message}",
            "Messages waiting here to be forwarded to other nodes.");
        meter.CreateObservableCounter("iothub.cluster.received", () => routing.Received, "{message}",
            "Messages other nodes forwarded to this node.");
        meter.CreateObservableUpDownCounter("iothub.cluster.forward.held", () => routing.Totals().Held, "{message}",
            "QoS 1 and 2 messages forwarded to other nodes whose publishers' PUBACK/PUBREC waits now for those nodes to accept them.");
        meter.CreateObservableCounter("iothub.cluster.forward.not_accepted", () => routing.Totals().NotAccepted, "{message}",
            "QoS 1 and 2 messages another node did not accept (in time): their publishers were disconnected without an acknowledgement and send them again.");
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
