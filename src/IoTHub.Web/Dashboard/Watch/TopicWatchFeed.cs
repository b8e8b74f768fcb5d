using IoTHub.Broker;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Watching;

namespace IoTHub.Web.Dashboard.Watch;

/// <summary>What arrived since the circuit last took from a <see cref="TopicWatchFeed"/>.</summary>
/// <param name="Messages">The newest of them, newest first, at most <see cref="TopicWatchFeed.Capacity"/>.</param>
/// <param name="Skipped">Those the ring overwrote before the circuit came: never shown.</param>
internal sealed record WatchBatch(IReadOnlyList<WatchedMessage> Messages, long Skipped);

/// <summary>
/// One open watch of the dashboard's watch panel on a broker's <see cref="TopicWatch"/>. The routing thread only puts
/// the message in a ring of the last <see cref="Capacity"/> under a short lock; the circuit takes what is new at its
/// own pace (<see cref="Take"/>) and decodes it then, so a busy filter costs the publisher's read loop a lock and a
/// store, and the circuit a bounded batch per render whatever the rate. Disposing closes the watch.
/// </summary>
internal sealed class TopicWatchFeed : IDisposable
{
    /// <summary>The messages kept for the page: the last ones.</summary>
    public const int Capacity = 100;

    private readonly Lock _lock = new();
    private readonly (MqttMessage Message, DateTimeOffset At)[] _ring = new (MqttMessage, DateTimeOffset)[Capacity];
    private readonly TimeProvider _time;
    private TopicWatch? _watch;
    private long _received;
    private long _taken;

    private TopicWatchFeed(TimeProvider time) => _time = time;

    /// <summary>Opens a watch of <paramref name="filter"/> on <paramref name="broker"/>; null when the broker opens none for it.</summary>
    public static TopicWatchFeed? Open(MqttBroker broker, string filter, TimeProvider time)
    {
        var feed = new TopicWatchFeed(time);
        feed._watch = broker.Watch(filter, feed.Receive);
        return feed._watch is null ? null : feed;
    }

    /// <summary>What arrived since the last take (the first: since the watch opened).</summary>
    public WatchBatch Take()
    {
        (MqttMessage Message, DateTimeOffset At)[] newest;
        long skipped;
        lock (_lock)
        {
            var count = (int)Math.Min(_received - _taken, Capacity);
            skipped = _received - _taken - count;
            newest = new (MqttMessage, DateTimeOffset)[count];
            for (var i = 0; i < count; i++)
            {
                newest[i] = _ring[(_received - 1 - i) % Capacity];
            }

            _taken = _received;
        }

        return new WatchBatch([.. newest.Select(static m => WatchedMessage.From(m.Message, m.At))], skipped);
    }

    public void Dispose() => _watch?.Dispose();

    private void Receive(MqttMessage message)
    {
        var at = _time.GetUtcNow();
        lock (_lock)
        {
            _ring[_received % Capacity] = (message, at);
            _received++;
        }
    }
}
