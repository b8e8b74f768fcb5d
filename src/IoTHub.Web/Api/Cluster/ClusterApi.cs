using IoTHub.Cluster.Membership;
using IoTHub.Cluster.Nodes;
using IoTHub.Web.Auth;
using IoTHub.Web.Configuration;
using IoTHub.Web.Drain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Api.Cluster;

/// <summary>One node of the cluster.</summary>
/// <param name="Id">Its identity in the membership: address:port@generation (the generation tells a restart from the node before it).
/// "local" without clustering.</param>
/// <param name="Name">Its name: the address and port other nodes reach it at (without clustering, the machine's name).</param>
/// <param name="Address">The IP address other nodes reach it at (Cluster:AdvertisedAddress).</param>
/// <param name="Port">Its node-to-node port (Cluster:Port); 0 without clustering.</param>
/// <param name="Status">joining, active, shuttingDown or dead, as the membership says.</param>
/// <param name="StartedAt">When it started.</param>
/// <param name="LastHeartbeat">Its last sign of life in the membership table (every Cluster:IAmAliveInterval).</param>
/// <param name="Connections">Its MQTT connections now, as the node itself tells; null when it did not answer in time or is not active.</param>
/// <param name="Self">Whether it is the node that answered this request.</param>
/// <param name="Filters">The topic filters the answering node routes to it (for itself, its own): one per filter however many of its sessions
/// subscribed; null when it knows none of that node (a dead node's routes are purged) or without clustering.</param>
internal sealed record ClusterNodeInfo(string Id, string Name, string Address, int Port, NodeStatus Status, DateTimeOffset StartedAt,
    DateTimeOffset LastHeartbeat, int? Connections, bool Self, int? Filters);

/// <summary>The cluster as the node that answers sees it.</summary>
/// <param name="Enabled">Whether clustering is on (Cluster:Enabled); off, the one node is this process.</param>
/// <param name="Name">The cluster's name (Cluster:Name).</param>
/// <param name="Self">The id of the node that answered.</param>
/// <param name="Nodes">Every node in the membership, dead ones included until they are cleaned up.</param>
internal sealed record ClusterInfo(bool Enabled, string Name, string Self, IReadOnlyList<ClusterNodeInfo> Nodes);

/// <summary>The drain of the node that answered (docs/clustering.md#drain-and-rolling-restarts).</summary>
/// <param name="Node">The id of the node that drains (as in GET /api/v1/cluster; "local" without clustering).</param>
/// <param name="DrainingSince">When its drain began (an earlier one, when it was draining already).</param>
internal sealed record DrainInfo(string Node, DateTimeOffset DrainingSince);

/// <summary>GET /api/v1/cluster, POST /api/v1/cluster/drain.</summary>
internal static class ClusterApi
{
    public static IEndpointRouteBuilder MapClusterApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/cluster", Get).WithTags("Cluster").WithName("GetCluster")
            .WithSummary("Shows the nodes of the cluster with their state, last heartbeat, MQTT connections and the topic filters routed to each (one node without clustering).")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapPost("/cluster/drain", Drain).WithTags("Cluster").WithName("DrainNode")
            .WithSummary("Drains the node that answers for a rolling restart: GET /health/ready answers 503 at once, new MQTT clients are refused, " +
                "connected ones get what is queued for them, then DISCONNECT 0x8B (Server shutting down), and a clustered node leaves the cluster. " +
                "The process keeps running (its API too) until it is stopped; it does not serve MQTT again. Answers at once; the Location is the readiness probe.")
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static Accepted<DrainInfo> Drain(NodeDrain drain, IClusterNodes nodes)
    {
        _ = drain.DrainAsync("POST /api/v1/cluster/drain");
        return TypedResults.Accepted("/health/ready", new DrainInfo(nodes.Self, drain.Since!.Value));
    }

    private static async Task<Results<Ok<ClusterInfo>, ProblemHttpResult>> Get(IClusterNodes nodes, IOptions<ClusterOptions> options,
        CancellationToken cancellationToken)
    {
        try
        {
            return TypedResults.Ok(await DescribeAsync(nodes, options.Value, cancellationToken));
        }
        catch (ClusterStoreException e)
        {
            // The membership database is down or unreachable: this node cannot tell who is in the cluster.
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary>The cluster as this node sees it, for the API and the dashboard's Status page; throws <see cref="ClusterStoreException"/> when the membership cannot be read.</summary>
    public static async Task<ClusterInfo> DescribeAsync(IClusterNodes nodes, ClusterOptions options, CancellationToken cancellationToken)
    {
        var read = await nodes.ReadAsync(cancellationToken);
        return new ClusterInfo(options.Enabled, options.Name, nodes.Self,
        [
            .. read.Select(static n => new ClusterNodeInfo(n.Id, n.Name, n.Address, n.Port, n.Status, n.StartedAt, n.LastHeartbeat, n.Connections, n.Self, n.Filters)),
        ]);
    }
}
