using IoTHub.Broker.Diagnostics;

namespace IoTHub.Web.Metrics.History;

/// <summary>One series of the metrics history: its snake_case name, its unit, and its place in every sample.</summary>
internal sealed record HistorySeries(int Index, string Name, string Unit)
{
    public static readonly HistorySeries Connections = new(0, "connections", "connections");
    public static readonly HistorySeries QueuedMessages = new(1, "queued_messages", "messages");
    public static readonly HistorySeries MessagesIn = new(2, "messages_in", "messages/s");
    public static readonly HistorySeries MessagesOut = new(3, "messages_out", "messages/s");
    public static readonly HistorySeries BytesIn = new(4, "bytes_in", "bytes/s");
    public static readonly HistorySeries BytesOut = new(5, "bytes_out", "bytes/s");
    public static readonly HistorySeries AuthenticationFailures = new(6, "auth_failures", "failures/s");
    public static readonly HistorySeries DeliveryLatencyP99 = new(7, "delivery_latency_p99", "s");

    /// <summary>Where the drops of the first reason go; each reason of <see cref="DropReasons.All"/> follows.</summary>
    public const int FirstDropIndex = 8;

    /// <summary>Every series, in sample order: the drops by reason last (<c>drops_queue_full</c>, ...).</summary>
    public static readonly IReadOnlyList<HistorySeries> All =
    [
        Connections, QueuedMessages, MessagesIn, MessagesOut, BytesIn, BytesOut, AuthenticationFailures, DeliveryLatencyP99,
        .. DropReasons.All.Select(static r => new HistorySeries(FirstDropIndex + (int)r, "drops_" + r.Label(), "messages/s")),
    ];

    /// <summary>The series named <paramref name="name"/>, or null.</summary>
    public static HistorySeries? Find(string name) => All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.Ordinal));
}
