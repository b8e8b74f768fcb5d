using System.Collections.Concurrent;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;

namespace IoTHub.Broker.Retained;

/// <summary>The last retained message of each topic (MQTT 5.0 §3.3.1.3, 3.1.1 §3.3.1.3).</summary>
internal sealed class RetainedStore
{
    private readonly ConcurrentDictionary<string, MqttMessage> _messages = new(StringComparer.Ordinal);

    public int Count => _messages.Count;

    /// <summary>Stores or replaces the topic's retained message; an empty payload deletes it [MQTT-3.3.1-10] [MQTT-3.3.1-11].</summary>
    public void Set(MqttMessage message)
    {
        if (message.Payload.IsEmpty)
        {
            _messages.TryRemove(message.Topic, out _);
        }
        else
        {
            _messages[message.Topic] = message;
        }
    }

    public MqttMessage? Get(string topic) => _messages.GetValueOrDefault(topic);

    /// <summary>
    /// Adds the retained messages whose topic matches <paramref name="topicFilter"/>; expired ones are
    /// removed instead (5.0 §3.3.2.3.3).
    /// </summary>
    public void Match(string topicFilter, List<MqttMessage> matches, long now)
    {
        if (!topicFilter.Contains('+', StringComparison.Ordinal) && !topicFilter.Contains('#', StringComparison.Ordinal))
        {
            if (_messages.TryGetValue(topicFilter, out var exact))
            {
                AddUnlessExpired(exact, matches, now);
            }

            return;
        }

        foreach (var (topic, message) in _messages)
        {
            if (TopicFilter.Matches(topicFilter, topic))
            {
                AddUnlessExpired(message, matches, now);
            }
        }
    }

    /// <summary>Removes every expired retained message.</summary>
    public void RemoveExpired(long now)
    {
        foreach (var (topic, message) in _messages)
        {
            if (message.IsExpired(now))
            {
                _messages.TryRemove(new KeyValuePair<string, MqttMessage>(topic, message));
            }
        }
    }

    private void AddUnlessExpired(MqttMessage message, List<MqttMessage> matches, long now)
    {
        if (message.IsExpired(now))
        {
            _messages.TryRemove(new KeyValuePair<string, MqttMessage>(message.Topic, message));
        }
        else
        {
            matches.Add(message);
        }
    }
}
