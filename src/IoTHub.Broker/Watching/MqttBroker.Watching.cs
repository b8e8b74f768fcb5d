using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Watching;

namespace IoTHub.Broker;

/// <summary>Watching the messages routed to a topic filter from inside the process, without a session.</summary>
public sealed partial class MqttBroker
{
    /// <summary>
    /// Starts a <see cref="TopicWatch"/>: from now on every message this broker routes whose topic matches
    /// <paramref name="topicFilter"/> (a client's, the admin API's, a will, <c>$SYS</c>) is handed to
    /// <paramref name="receive"/> as it is routed, whoever subscribed to it. Returns null when the filter is not one a
    /// client could subscribe to, or is a shared subscription's (<c>$share/</c>, <c>$queue/</c>): a watch takes no
    /// member's turn. <paramref name="receive"/> runs on the publisher's read loop: it must be quick, must not block and
    /// should not throw (what it throws is logged and goes no further).
    /// </summary>
    public TopicWatch? Watch(string topicFilter, Action<MqttMessage> receive)
    {
        ArgumentNullException.ThrowIfNull(topicFilter);
        ArgumentNullException.ThrowIfNull(receive);
        if (!Topics.IsAcceptableFilter(topicFilter) || Subscription.Parse(topicFilter).Group is not null)
        {
            return null;
        }

        return Router.Watches.Add(topicFilter, receive);
    }
}
