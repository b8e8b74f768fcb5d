using System.Net;
using IoTHub.Cluster.Tls;

namespace IoTHub.Cluster;

/// <summary>What a node needs to join its cluster: the Cluster section, validated and with its connection string resolved.</summary>
/// <param name="Name">Cluster:Name, Orleans' ClusterId and ServiceId: nodes with the same name and database form one cluster.</param>
/// <param name="ConnectionString">The PostgreSQL database that holds the membership tables.</param>
/// <param name="AdvertisedAddress">The IP address other nodes reach this one at; the node-to-node port is bound on it too.</param>
/// <param name="Port">The node-to-node (Orleans silo) port.</param>
/// <param name="ProbeTimeout">How long a node waits for a probe's answer, and how often it probes.</param>
/// <param name="MissedProbesLimit">Missed probes in a row after which a node suspects another and votes it dead.</param>
/// <param name="IAmAliveInterval">How often a node writes its sign of life into the membership table.</param>
/// <param name="MigrateOnStart">Apply the broker's migrations to that database at start (Storage:MigrateOnStart).</param>
/// <param name="ForwardAckTimeout">How long a forwarded QoS 1 or 2 message's acknowledgement may wait for the other nodes (Cluster:Routing:ForwardAckTimeout).</param>
/// <param name="Tls">Mutual TLS on the node-to-node port (Cluster:Tls); null: plain TCP.</param>
internal sealed record ClusterNodeSettings(
    string Name,
    string ConnectionString,
    IPAddress AdvertisedAddress,
    int Port,
    TimeSpan ProbeTimeout,
    int MissedProbesLimit,
    TimeSpan IAmAliveInterval,
    bool MigrateOnStart,
    TimeSpan ForwardAckTimeout,
    NodeTls? Tls = null)
{
    /// <summary>How often a node reads the membership table even without news: about the time it takes to declare a node dead.</summary>
    public TimeSpan TableRefreshTimeout => ProbeTimeout * (MissedProbesLimit + 1);

    /// <summary>
    /// How long a node may go without one successful operation on its membership store before it stops serving clients
    /// (split brain, docs/clustering.md#split-brain): two table refreshes missed, so one failed read is not enough.
    /// </summary>
    public TimeSpan StoreLossBound => TableRefreshTimeout * 2;
}

/// <summary>The MQTT connections of this process (every broker of it), which each node reports to the others.</summary>
internal interface ILocalConnections
{
    int Count { get; }
}
