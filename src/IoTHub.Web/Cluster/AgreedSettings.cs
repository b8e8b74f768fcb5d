using System.Globalization;
using IoTHub.Broker;
using IoTHub.Cluster.Settings;
using IoTHub.Web.Configuration;
using IoTHub.Web.Mqtt;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Cluster;

/// <summary>
/// What every node of a cluster must set alike (docs/clustering.md#settings-that-must-agree): the protocol limits and feature
/// switches of the default broker, which serves the clients of every node and receives every node's forwarded messages (a
/// client moved to another node must find the same limits; a message one node accepts must fit the others), and the failure
/// detection settings, whose bounds every node computes from its own copy.
/// </summary>
internal sealed class AgreedSettings(BrokerRegistry registry, IOptions<ClusterOptions> cluster) : IAgreedSettings
{
    public IReadOnlyDictionary<string, string> Read()
    {
        var mqtt = registry.Default.Options;
        var detection = cluster.Value;
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [Mqtt(nameof(BrokerOptions.MaximumPacketSize))] = Text(mqtt.MaximumPacketSize),
            [Mqtt(nameof(BrokerOptions.MaximumQoS))] = Text((int)mqtt.MaximumQoS),
            [Mqtt(nameof(BrokerOptions.RetainAvailable))] = Text(mqtt.RetainAvailable),
            [Mqtt(nameof(BrokerOptions.MaximumTopicLength))] = Text(mqtt.MaximumTopicLength),
            [Mqtt(nameof(BrokerOptions.MaximumTopicLevels))] = Text(mqtt.MaximumTopicLevels),
            [Mqtt(nameof(BrokerOptions.MaximumSubscriptionsPerClient))] = Text(mqtt.MaximumSubscriptionsPerClient),
            [Mqtt(nameof(BrokerOptions.TopicAliasMaximum))] = Text(mqtt.TopicAliasMaximum),
            [Mqtt(nameof(BrokerOptions.MaximumKeepAlive))] = Text(mqtt.MaximumKeepAlive),
            [Mqtt(nameof(BrokerOptions.ServerKeepAlive))] = Text(mqtt.ServerKeepAlive),
            [Mqtt(nameof(BrokerOptions.PersistentSessionLifetime))] = Text(mqtt.PersistentSessionLifetime),
            [Mqtt(nameof(BrokerOptions.SharedSubscriptionStrategy))] = mqtt.SharedSubscriptionStrategy.ToString(),
            [Cluster(nameof(ClusterOptions.ProbeTimeout))] = Text(detection.ProbeTimeout),
            [Cluster(nameof(ClusterOptions.MissedProbesLimit))] = Text(detection.MissedProbesLimit),
            [Cluster(nameof(ClusterOptions.IAmAliveInterval))] = Text(detection.IAmAliveInterval),
        };
    }

    private static string Mqtt(string key) => "Mqtt:" + key;

    private static string Cluster(string key) => ClusterOptions.SectionName + ":" + key;

    private static string Text<T>(T value)
        where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);

    private static string Text(bool value) => value ? "true" : "false";
}
