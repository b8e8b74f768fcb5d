using System.Text;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Routing;

/// <summary>
/// The broker's rules for topic names and filters beyond the codec's: the configured length and level limits,
/// topics reserved for the server. Written once, used by MQTT connections and the admin API alike.
/// </summary>
internal sealed class TopicPolicy(BrokerOptions options)
{
    /// <summary>
    /// Null when a message may be published to <paramref name="topic"/>; otherwise why not. Topics starting with
    /// '$' are the server's: clients may not publish to them (the admin API may).
    /// </summary>
    /// <param name="fromClient">A client's PUBLISH or will: the codec has checked the name itself already.</param>
    public string? RefuseTopicName(string topic, bool fromClient)
    {
        if (fromClient)
        {
            if (topic.StartsWith('$'))
            {
                return "topics starting with '$' are reserved for the server";
            }
        }
        else if (!TopicRules.IsValidTopicName(topic) || topic.Contains('\0', StringComparison.Ordinal))
        {
            return "a topic name is not empty and holds no wildcard (+, #) nor U+0000";
        }

        return RefuseLength(topic);
    }

    /// <summary>Whether <paramref name="filter"/> may be subscribed: a valid filter (a shared one's inner filter too) within the limits.</summary>
    public bool IsAcceptableFilter(string filter)
    {
        // A shared subscription ($share/{group}/{filter}, [MQTT-4.8.2-1] [MQTT-4.8.2-2], or $queue/{filter}) is checked by its filter.
        var matchFilter = Subscription.Parse(filter).Filter;
        return TopicRules.IsValidTopicFilter(filter) && TopicRules.IsValidTopicFilter(matchFilter) && RefuseLength(matchFilter) is null;
    }

    private string? RefuseLength(string topic)
    {
        // Counting bytes only when the characters alone could be too many.
        if (topic.Length > options.MaximumTopicLength && Encoding.UTF8.GetByteCount(topic) > options.MaximumTopicLength)
        {
            return $"longer than the maximum topic length ({options.MaximumTopicLength} bytes)";
        }

        if (topic.AsSpan().Count('/') + 1 > options.MaximumTopicLevels)
        {
            return $"more levels than allowed ({options.MaximumTopicLevels})";
        }

        return null;
    }
}
