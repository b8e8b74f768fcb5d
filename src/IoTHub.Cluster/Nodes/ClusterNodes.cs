using System.Text.Json.Serialization;
using IoTHub.Cluster.Membership;
using IoTHub.Cluster.Routing;
using Orleans;
using Orleans.Runtime;

namespace IoTHub.Cluster.Nodes;

/// <summary>Where a node stands in the membership (Orleans' silo statuses folded into four).</summary>
internal enum NodeStatus
{
    [JsonStringEnumMemberName("joining")]
    Joining,
    [JsonStringEnumMemberName("active")]
    Active,
    [JsonStringEnumMemberName("shuttingDown")]
    ShuttingDown,
    [JsonStringEnumMemberName("dead")]
    Dead,
}

/// <summary>One node as the membership table and the node itself tell it.</summary>
/// <param name="Id">Orleans' silo address: address, port and the generation of this start (address:port@generation).</param>
/// <param name="Name">Its name (advertised address and port).</param>
/// <param name="Address">The IP address other nodes reach it at.</param>
/// <param name="Port">Its node-to-node port.</param>
/// <param name="Status">Joining, active, shutting down or dead.</param>
/// <param name="StartedAt">When it started.</param>
/// <param name="LastHeartbeat">Its last "I am alive" write into the membership table.</param>
/// <param name="Connections">Its MQTT connections now, asked of the node itself; null when it did not answer (or is not active).</param>
/// <param name="Self">Whether it is the node that answered the request.</param>
/// <param name="Filters">
/// The topic filters the answering node routes to it (its own for itself), one per filter however many sessions subscribed; null
/// when the answering node knows none of it (a dead node's are purged), or without clustering.
/// </param>
internal sealed record ClusterNode(string Id, string Name, string Address, int Port, NodeStatus Status, DateTimeOffset StartedAt,
    DateTimeOffset LastHeartbeat, int? Connections, bool Self, int? Filters = null);

/// <summary>The nodes of the cluster this process belongs to.</summary>
internal interface IClusterNodes
{
    /// <summary>This process's node id (its silo address).</summary>
    string Self { get; }

    /// <summary>Every node of the membership; throws <see cref="ClusterStoreException"/> when the membership cannot be read.</summary>
    Task<IReadOnlyList<ClusterNode>> ReadAsync(CancellationToken cancellationToken);
}

/// <summary>Reads the membership table for every node, and asks each active one for its connection count through its <see cref="INodeGrain"/>.</summary>
internal sealed class OrleansClusterNodes(IMembershipTable table, ILocalSiloDetails local, IGrainFactory grains, ILocalConnections connections,
    ClusterRouting? routing = null) : IClusterNodes
{
    /// <summary>How long a node may take to tell its connections before the answer goes without them.</summary>
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(2);

    public string Self => local.SiloAddress.ToParsableString();

    public async Task<IReadOnlyList<ClusterNode>> ReadAsync(CancellationToken cancellationToken)
    {
        MembershipTableData data;
        try
        {
            data = await table.ReadAllAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Npgsql.NpgsqlException e)
        {
            throw new ClusterStoreException(e.Message, e);
        }

        var members = data.Members.Select(static m => m.Item1).OrderBy(static m => m.SiloName, StringComparer.Ordinal).ThenBy(static m => m.StartTime).ToList();
        var counts = await Task.WhenAll(members.Select(m => CountAsync(m, cancellationToken))).ConfigureAwait(false);
        return [.. members.Select((m, i) => new ClusterNode(m.SiloAddress.ToParsableString(), m.SiloName, m.SiloAddress.Endpoint.Address.ToString(),
            m.SiloAddress.Endpoint.Port, Fold(m.Status), Utc(m.StartTime), Utc(m.IAmAliveTime), counts[i], m.SiloAddress.Equals(local.SiloAddress),
            routing?.FilterCount(m.SiloAddress.ToParsableString())))];
    }

    public static NodeStatus Fold(SiloStatus status) => status switch
    {
        SiloStatus.Active => NodeStatus.Active,
        SiloStatus.ShuttingDown or SiloStatus.Stopping => NodeStatus.ShuttingDown,
        SiloStatus.Dead => NodeStatus.Dead,
        _ => NodeStatus.Joining,
    };

    private async Task<int?> CountAsync(MembershipEntry member, CancellationToken cancellationToken)
    {
        if (member.SiloAddress.Equals(local.SiloAddress))
        {
            return connections.Count;
        }

        if (member.Status != SiloStatus.Active)
        {
            return null;
        }

        try
        {
            return await grains.GetGrain<INodeGrain>(member.SiloAddress.ToParsableString()).CountConnectionsAsync()
                .WaitAsync(AskTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or SiloUnavailableException)
        {
            return null;
        }
    }

    private static DateTimeOffset Utc(DateTime time) => new(DateTime.SpecifyKind(time, DateTimeKind.Utc));
}
