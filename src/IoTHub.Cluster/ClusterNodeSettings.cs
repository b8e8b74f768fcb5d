using System.Net;

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
internal sealed record ClusterNodeSettings(
    string Name,
    string ConnectionString,
    IPAddress AdvertisedAddress,
    int Port,
    TimeSpan ProbeTimeout,
    int MissedProbesLimit,
    TimeSpan IAmAliveInterval,
    bool MigrateOnStart);

/// <summary>The MQTT connections of this process (every broker of it), which each node reports to the others.</summary>
internal interface ILocalConnections
{
    int Count { get; }
}
