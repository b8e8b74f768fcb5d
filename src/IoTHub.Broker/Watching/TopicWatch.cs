using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;

namespace IoTHub.Broker.Watching;

/// <summary>
/// An in-process watch of the messages routed to a topic filter (the dashboard's watch panel): no session, no
/// subscription, no connection, so it is in no count, no <c>$SYS</c> topic and no client list, and it never changes
/// who gets a message or the acknowledgement a publisher gets. Made by <see cref="MqttBroker.Watch"/>; dispose it to stop.
/// </summary>
public sealed class TopicWatch : IDisposable
{
    private readonly TopicWatches _owner;
    private readonly Action<MqttMessage> _receive;
    private int _disposed;

    internal TopicWatch(TopicWatches owner, string filter, Action<MqttMessage> receive)
    {
        _owner = owner;
        Filter = filter;
        _receive = receive;
    }

    /// <summary>The topic filter watched ('$' topics only by a filter that names them, as for a subscription [MQTT-4.7.2-1]).</summary>
    public string Filter { get; }

    /// <summary>Stops the watch: messages routed after this returns do not reach it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _owner.Remove(this);
        }
    }

    /// <summary>Hands the message over when its topic matches; on the routing thread.</summary>
    internal void Offer(MqttMessage message)
    {
        if (TopicFilter.Matches(Filter, message.Topic))
        {
            _receive(message);
        }
    }
}
