using System.Runtime.CompilerServices;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Watching;

/// <summary>
/// The open <see cref="TopicWatch"/>es of a broker, shown every routed message. Routing reads one array reference,
/// null while no watch is open, so without a watch a publish costs one load and one null check more: no lock, no
/// allocation. Watches are few (dashboard panels): each is matched on its own, a copy-on-write array under a lock
/// taken only to open or close one.
/// </summary>
internal sealed class TopicWatches(ILogger logger)
{
    private readonly Lock _lock = new();
    private TopicWatch[]? _watches;

    /// <summary>Watches open now.</summary>
    public int Count => Volatile.Read(ref _watches)?.Length ?? 0;

    public TopicWatch Add(string filter, Action<MqttMessage> receive)
    {
        var watch = new TopicWatch(this, filter, receive);
        lock (_lock)
        {
            Volatile.Write(ref _watches, [.. _watches ?? [], watch]);
        }

        return watch;
    }

    public void Remove(TopicWatch watch)
    {
        lock (_lock)
        {
            var rest = Array.FindAll(_watches ?? [], w => !ReferenceEquals(w, watch));
            Volatile.Write(ref _watches, rest.Length == 0 ? null : rest);
        }
    }

    /// <summary>Shows a routed message to the watches whose filter matches it; called by routing for every message.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Show(MqttMessage message)
    {
        if (Volatile.Read(ref _watches) is { } watches)
        {
            ShowTo(watches, message);
        }
    }

    private void ShowTo(TopicWatch[] watches, MqttMessage message)
    {
        foreach (var watch in watches)
        {
            try
            {
                watch.Offer(message);
            }
#pragma warning disable CA1031 // A watcher's failure must never end the publisher's connection.
            catch (Exception e)
#pragma warning restore CA1031
            {
                BrokerLog.TopicWatchFailed(logger, e, watch.Filter);
            }
        }
    }
}
