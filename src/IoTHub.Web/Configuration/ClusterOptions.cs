using System.Diagnostics.CodeAnalysis;
using System.Net;
using IoTHub.Cluster.Tls;
using IoTHub.Web.Cluster;

namespace IoTHub.Web.Configuration;

/// <summary>Section "Cluster": several nodes as one broker on Orleans (docs/clustering.md). Off by default.</summary>
internal sealed class ClusterOptions
{
    public const string SectionName = "Cluster";

    public bool Enabled { get; set; }

    /// <summary>The cluster's name (Orleans' ClusterId): nodes with the same name and database form one cluster.</summary>
    public string Name { get; set; } = "iothub";

    /// <summary>The PostgreSQL database of the membership; empty: Storage:ConnectionString when Storage:Provider is postgres.</summary>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>The node-to-node port (Orleans' silo port), bound on <see cref="AdvertisedAddress"/>.</summary>
    public int Port { get; set; } = 11111;

    /// <summary>The IP address other nodes reach this one at, and where the node-to-node port is bound.</summary>
    public IPAddress AdvertisedAddress { get; set; } = IPAddress.Loopback;

    /// <summary>How long a probe may take and how often nodes probe each other.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Missed probes in a row after which a node votes another dead.</summary>
    public int MissedProbesLimit { get; set; } = 2;

    /// <summary>How often a node writes its sign of life into the membership table.</summary>
    public TimeSpan IAmAliveInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// "Cluster:Routing:ForwardAckTimeout": how long the acknowledgement of a QoS 1 or 2 message forwarded to other nodes may wait for
    /// them to accept it; then it is withheld and the publisher's connection closed (docs/clustering.md#acknowledged-forwarding).
    /// </summary>
    public TimeSpan ForwardAckTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Mutual TLS on the node-to-node port ("Cluster:Tls"), its files loaded; null: plain TCP (the default).</summary>
    public NodeTls? Tls { get; private set; }

    public void Read(SectionReader reader)
    {
        Enabled = reader.Flag(nameof(Enabled), Enabled);
        Name = reader.Read(nameof(Name), Name, TryParseName, "is not a cluster name (1 to 256 letters, digits, '-', '_' or '.').");
        ConnectionString = reader.NonEmptyText(nameof(ConnectionString), ConnectionString);
        // Not 0: other nodes must know the port, so "any free port" cannot work.
        Port = (int)reader.Number(nameof(Port), Port, 1, IPEndPoint.MaxPort);
        AdvertisedAddress = reader.Read(nameof(AdvertisedAddress), AdvertisedAddress, TryParseReachableAddress,
            "is not an IP address other nodes can reach (0.0.0.0 and :: are not one).");
        ProbeTimeout = reader.Read(nameof(ProbeTimeout), ProbeTimeout, TryParseShortTimeout, ShortTimeoutProblem);
        MissedProbesLimit = (int)reader.Number(nameof(MissedProbesLimit), MissedProbesLimit, 1, 10);
        IAmAliveInterval = reader.Duration(nameof(IAmAliveInterval), IAmAliveInterval);
        var routing = reader.Section("Routing");
        ForwardAckTimeout = routing.Read(nameof(ForwardAckTimeout), ForwardAckTimeout, TryParseShortTimeout, ShortTimeoutProblem);
        routing.RejectUnknownKeys();
        Tls = NodeTlsSettings.Read(reader.Section(NodeTlsSettings.SectionName), Enabled);
    }

    private const string ShortTimeoutProblem = "is not a duration from 00:00:00.1 to 00:01:00.";

    private static bool TryParseShortTimeout(string raw, out TimeSpan timeout) =>
        TimeSpan.TryParse(raw, System.Globalization.CultureInfo.InvariantCulture, out timeout) && timeout >= TimeSpan.FromMilliseconds(100) && timeout <= TimeSpan.FromMinutes(1);

    private static bool TryParseName(string raw, out string name)
    {
        name = raw;
        return raw.Length is > 0 and <= 256 && raw.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
    }

    private static bool TryParseReachableAddress(string raw, [MaybeNullWhen(false)] out IPAddress address) =>
        IPAddress.TryParse(raw, out address) && !address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any);
}
