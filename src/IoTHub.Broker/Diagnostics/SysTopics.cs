using System.Globalization;
using System.Reflection;
using System.Text;
using IoTHub.Broker.Messages;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Diagnostics;

/// <summary>
/// Publishes the broker's counters as retained messages under <c>$SYS/broker/</c>, with the topic
/// names Mosquitto uses so that existing dashboards and tools read them. They are retained in memory
/// only: recomputed from the start, they would be stale when read back from storage.
/// </summary>
internal sealed class SysTopics(MqttBroker broker)
{
    private static readonly string Version =
        typeof(SysTopics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private long _lastPublishedAt;

    public void PublishIfDue(long now)
    {
        if (_lastPublishedAt != 0 && broker.Time.GetElapsedTime(_lastPublishedAt, now) < broker.Options.SysInterval)
        {
            return;
        }

        _lastPublishedAt = now;
        Publish(now);
    }

    public void Publish(long now)
    {
        var statistics = broker.Statistics;
        var connected = 0;
        var total = 0;
        foreach (var session in broker.Registry.All)
        {
            total++;
            connected += session.IsConnected ? 1 : 0;
        }

        var uptime = (long)broker.Time.GetElapsedTime(broker.StartedAt, now).TotalSeconds;
        Set("version", "IoTHub " + Version);
        Set("uptime", uptime.ToString(CultureInfo.InvariantCulture) + " seconds");
        Set("clients/connected", connected);
        Set("clients/disconnected", total - connected);
        Set("clients/total", total);
        Set("messages/received", statistics.PacketsReceived);
        Set("messages/sent", statistics.PacketsSent);
        Set("publish/messages/received", statistics.MessagesReceived);
        Set("publish/messages/sent", statistics.MessagesDelivered);
        Set("publish/messages/dropped", statistics.Dropped(DropReason.QueueFull));
        Set("bytes/received", statistics.BytesReceived);
        Set("bytes/sent", statistics.BytesSent);
        Set("subscriptions/count", broker.Subscriptions.Count);
        Set("retained messages/count", broker.Retained.Count);
    }

    private void Set(string name, long value) => Set(name, value.ToString(CultureInfo.InvariantCulture));

    private void Set(string name, string value) =>
        broker.PublishStatus(MqttMessage.Create("$SYS/broker/" + name, Encoding.UTF8.GetBytes(value), QualityOfService.AtMostOnce, retain: true, time: broker.Time));
}
