namespace IoTHub.Data.Entities;

// The membership of a cluster (docs/clustering.md), read and written by IoTHub.Cluster's membership table with
// its own SQL: the conditional updates that keep two nodes from both winning one version need more than EF's
// change tracking. The tables exist in SQLite too (one model for both providers); clustering uses PostgreSQL only.

/// <summary>The version of one cluster's membership: every change of a member row moves it on by one, conditionally.</summary>
public sealed class ClusterVersionEntity
{
    /// <summary>Cluster:Name.</summary>
    public required string ClusterId { get; set; }

    public int Version { get; set; }
}

/// <summary>One node (an Orleans silo) of a cluster: its address with the generation of its start, status and liveness.</summary>
public sealed class ClusterMemberEntity
{
    public required string ClusterId { get; set; }

    /// <summary>The IP address other nodes reach it at (Cluster:AdvertisedAddress).</summary>
    public required string Address { get; set; }

    /// <summary>Its node-to-node port (Cluster:Port).</summary>
    public int Port { get; set; }

    /// <summary>Orleans' generation: tells a restart on the same address and port from the node before it.</summary>
    public int Generation { get; set; }

    public required string SiloName { get; set; }

    public required string HostName { get; set; }

    /// <summary>Orleans' SiloStatus as a number (Joining 2, Active 3, ShuttingDown 4, Stopping 5, Dead 6).</summary>
    public int Status { get; set; }

    /// <summary>The Orleans gateway port; 0: none.</summary>
    public int ProxyPort { get; set; }

    /// <summary>Who suspects it since when: "address|unix ms" entries joined by ';', empty when nobody does.</summary>
    public required string SuspectTimes { get; set; }

    /// <summary>Unix milliseconds when it started.</summary>
    public long StartTime { get; set; }

    /// <summary>Unix milliseconds of its last "I am alive" write.</summary>
    public long IAmAliveTime { get; set; }

    /// <summary>The row's version for optimistic concurrency: moved on by every update of the row (not by IAmAlive).</summary>
    public int ETag { get; set; }
}
