namespace IoTHub.Broker.Connections;

/// <summary>
/// Topic aliases from the broker to one MQTT 5.0 client (§3.3.2.3.4), up to the client's Topic Alias
/// Maximum. A topic gets an alias the first time it is sent; once all are used, the next topic takes
/// over the slots in turn, so a client with few topics keeps them all and one with many topics still
/// saves bytes on whatever it receives often in a row.
/// </summary>
internal sealed class TopicAliases(ushort maximum)
{
    /// <summary>No aliases (maximum 0): it never changes its state, so all such connections share it.</summary>
    public static readonly TopicAliases None = new(0);

    private readonly Dictionary<string, ushort> _byTopic = new(StringComparer.Ordinal);
    private readonly string?[] _topics = new string?[maximum + 1];
    private ushort _next;

    /// <summary>
    /// The alias to send with <paramref name="topic"/>, or 0 for none. <paramref name="known"/> says the
    /// client already has it, so the topic itself can be left out.
    /// </summary>
    public ushort Choose(string topic, out bool known)
    {
        known = false;
        if (maximum == 0)
        {
            return 0;
        }

        if (_byTopic.TryGetValue(topic, out var alias))
        {
            known = true;
            return alias;
        }

        _next = _next >= maximum ? (ushort)1 : (ushort)(_next + 1);
        if (_topics[_next] is { } previous)
        {
            _byTopic.Remove(previous);
        }

        _topics[_next] = topic;
        _byTopic[topic] = _next;
        return _next;
    }

    /// <summary>Undoes a mapping whose PUBLISH was not sent after all.</summary>
    public void Forget(string topic)
    {
        if (maximum > 0 && _byTopic.Remove(topic, out var alias))
        {
            _topics[alias] = null;
        }
    }
}
