using System.Collections.Concurrent;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;

namespace IoTHub.Broker.Retained;

/// <summary>
/// The last retained message of each topic (MQTT 5.0 §3.3.1.3, 3.1.1 §3.3.1.3). Topics starting with '$' (the broker's
/// <c>$SYS/...</c>) are kept apart: they are counted without a walk, and a filter that cannot match them (one starting with
/// a wildcard [MQTT-4.7.2-1] or with any other level) never walks them.
/// </summary>
internal sealed class RetainedStore
{
    // Replaced only by Reserve, before anyone reads it.
    private ConcurrentDictionary<string, MqttMessage> _messages = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, MqttMessage> _serverMessages = new(StringComparer.Ordinal);

    /// <summary>Every retained message, '$' topics included.</summary>
    public int Count => _messages.Count + _serverMessages.Count;

    /// <summary>The retained messages whose topic starts with '$'.</summary>
    public int ServerCount => _serverMessages.Count;

    /// <summary>Stores or replaces the topic's retained message; an empty payload deletes it [MQTT-3.3.1-10] [MQTT-3.3.1-11].</summary>
    public void Set(MqttMessage message)
    {
        var messages = For(message.Topic);
        if (message.Payload.IsEmpty)
        {
            messages.TryRemove(message.Topic, out _);
        }
        else
        {
            messages[message.Topic] = message;
        }
    }

    /// <summary>
    /// Makes room for <paramref name="count"/> more messages at once, so that a start restoring a million of them does not grow the
    /// map twenty times over. Only before the broker serves anyone: the map is replaced.
    /// </summary>
    public void Reserve(int count)
    {
        var messages = new ConcurrentDictionary<string, MqttMessage>(Environment.ProcessorCount, _messages.Count + count, StringComparer.Ordinal);
        foreach (var (topic, message) in _messages)
        {
            messages[topic] = message;
        }

        _messages = messages;
    }

    public MqttMessage? Get(string topic) => For(topic).GetValueOrDefault(topic);

    /// <summary>
    /// Adds the retained messages whose topic matches <paramref name="topicFilter"/>; expired ones are
    /// removed instead (5.0 §3.3.2.3.3).
    /// </summary>
    public void Match(string topicFilter, List<MqttMessage> matches, long now) => matches.AddRange(Matching(topicFilter, now));

    /// <summary>
    /// The retained messages whose topic matches <paramref name="topicFilter"/>, read as the walk goes (the store's map as
    /// it is then, not a copy); expired ones (at <paramref name="now"/>) are removed instead (5.0 §3.3.2.3.3).
    /// </summary>
    public IEnumerable<MqttMessage> Matching(string topicFilter, long now)
    {
        var messages = For(topicFilter);
        if (!topicFilter.Contains('+', StringComparison.Ordinal) && !topicFilter.Contains('#', StringComparison.Ordinal))
        {
            if (messages.TryGetValue(topicFilter, out var exact) && !Expired(messages, exact, now))
            {
                yield return exact;
            }

            yield break;
        }

        foreach (var (topic, message) in messages)
        {
            if (TopicFilter.Matches(topicFilter, topic) && !Expired(messages, message, now))
            {
                yield return message;
            }
        }
    }

    /// <summary>Removes every expired retained message.</summary>
    public void RemoveExpired(long now)
    {
        RemoveExpired(_messages, now);
        RemoveExpired(_serverMessages, now);
    }

    // Only a topic or filter starting with '$' can be (or match) a '$' topic.
    private ConcurrentDictionary<string, MqttMessage> For(string topicOrFilter) => topicOrFilter.StartsWith('$') ? _serverMessages : _messages;

    private static void RemoveExpired(ConcurrentDictionary<string, MqttMessage> messages, long now)
    {
        foreach (var (topic, message) in messages)
        {
            if (message.IsExpired(now))
            {
                messages.TryRemove(new KeyValuePair<string, MqttMessage>(topic, message));
            }
        }
    }

    /// <summary>Whether <paramref name="message"/> expired; an expired one is removed.</summary>
    private static bool Expired(ConcurrentDictionary<string, MqttMessage> messages, MqttMessage message, long now)
    {
        if (!message.IsExpired(now))
        {
            return false;
        }

        messages.TryRemove(new KeyValuePair<string, MqttMessage>(message.Topic, message));
        return true;
    }
}
