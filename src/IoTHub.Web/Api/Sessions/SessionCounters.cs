using IoTHub.Broker.Diagnostics;

namespace IoTHub.Web.Api.Sessions;

/// <summary>A session's traffic and drops since it began in this broker process (a session restored at start counts from zero).</summary>
/// <param name="MessagesIn">PUBLISH packets received from its clients.</param>
/// <param name="BytesIn">Bytes of every MQTT packet received from its clients.</param>
/// <param name="MessagesOut">PUBLISH packets written to its clients.</param>
/// <param name="BytesOut">Bytes of every MQTT packet written to its clients.</param>
/// <param name="Dropped">Messages lost, by reason: queue_full, expired (waited past their Message Expiry Interval), too_large (above the client's
/// Maximum Packet Size), offline_qos0 (QoS 0 while offline, not queued) and publish_refused (published by its client and refused by a topic or access rule).</param>
internal sealed record SessionCounters(long MessagesIn, long BytesIn, long MessagesOut, long BytesOut, IReadOnlyDictionary<string, long> Dropped)
{
    /// <summary>The reasons a message is lost for one session: the others belong to the broker (no subscribers, stopping) or to an ended session.</summary>
    internal static readonly DropReason[] Reasons = [DropReason.QueueFull, DropReason.Expired, DropReason.TooLarge, DropReason.OfflineQoS0, DropReason.PublishRefused];

    public static SessionCounters From(ClientCounters counters)
    {
        var dropped = new Dictionary<string, long>(Reasons.Length, StringComparer.Ordinal);
        foreach (var reason in Reasons)
        {
            dropped[reason.Label()] = counters.Dropped(reason);
        }

        return new(counters.MessagesIn, counters.BytesIn, counters.MessagesOut, counters.BytesOut, dropped);
    }
}
