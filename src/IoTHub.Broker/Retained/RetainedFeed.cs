using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Sessions;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Retained;

/// <summary>
/// The retained messages matching one new subscription, read from the <see cref="RetainedStore"/> a batch at a time as its
/// client takes them: its session asks for more when its queue runs low (<see cref="BrokerOptions.RetainedDeliveryBatch"/>),
/// so a subscription to 200 000 retained messages gets every one of them at any QoS while the queue stays within its
/// limits, and live messages keep going out meanwhile. It walks the store as it is, not a copy (a message retained after
/// the subscription reaches the client live). A topic the session got a live message on since the feed began is
/// skipped, so a retained message never reaches the client after a newer one of its topic. Used under the session's lock.
/// </summary>
internal sealed class RetainedFeed(Subscription subscription, IEnumerator<MqttMessage> matching)
{
    private readonly uint[]? _subscriptionIds = subscription.SubscriptionId == 0 ? null : [subscription.SubscriptionId];
    private HashSet<string>? _liveTopics;

    /// <summary>The subscription it feeds (a new subscription to its filter replaces the feed; removing it ends the feed).</summary>
    public Subscription Subscription => subscription;

    /// <summary>A live message on <paramref name="topic"/> went to the session: the feed no longer sends that topic's retained one.</summary>
    public void SawLive(string topic)
    {
        if (Routing.TopicFilter.Matches(subscription.MatchFilter, topic))
        {
            (_liveTopics ??= new HashSet<string>(StringComparer.Ordinal)).Add(topic);
        }
    }

    /// <summary>The next retained message to send, with RETAIN set [MQTT-3.3.1-8] and the subscription's QoS at most; false at the end.</summary>
    public bool TryTake(out Delivery delivery)
    {
        while (matching.MoveNext())
        {
            var message = matching.Current;
            if (_liveTopics?.Contains(message.Topic) == true)
            {
                continue;
            }

            var qos = (QualityOfService)Math.Min((int)message.QualityOfService, (int)subscription.Options.QualityOfService);
            delivery = new Delivery(message, qos, Retain: true, _subscriptionIds) { AtSubscribe = true };
            return true;
        }

        matching.Dispose();
        delivery = default;
        return false;
    }

    /// <summary>Stops the walk (the subscription was replaced or removed, or the session ended).</summary>
    public void Stop() => matching.Dispose();
}
