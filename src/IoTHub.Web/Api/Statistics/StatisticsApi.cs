using System.ComponentModel;
using IoTHub.Broker;
using IoTHub.Web.Metrics.History;
using IoTHub.Web.Mqtt;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Statistics;

/// <summary>The counters of one broker (or of all brokers summed) since it started.</summary>
/// <param name="Broker">The broker's name; "*" for all brokers summed.</param>
/// <param name="Connections">Clients connected now.</param>
/// <param name="Sessions">Sessions now, connected or not.</param>
/// <param name="Subscriptions">Subscriptions now.</param>
/// <param name="RetainedMessages">Retained messages now, <c>$SYS/...</c> ones included.</param>
/// <param name="RetainedSysMessages">Of <paramref name="RetainedMessages"/>, those under a topic starting with '$' (the broker's
/// <c>$SYS/...</c>): a filter starting with a wildcard (<c>#</c>) does not match them, so the dashboard shows them apart.</param>
/// <param name="QueuedMessages">Messages queued now for sessions, connected or not.</param>
/// <param name="ConnectionsAccepted">CONNECTs accepted.</param>
/// <param name="ConnectionsRefused">CONNECTs refused.</param>
/// <param name="MessagesReceived">PUBLISH messages accepted from clients, every QoS.</param>
/// <param name="MessagesDelivered">PUBLISH packets written to subscribers, every QoS.</param>
/// <param name="MessagesDropped">Messages thrown away, every reason.</param>
/// <param name="StuckClientsDisconnected">Clients disconnected because they stopped reading.</param>
/// <param name="PacketsReceived">MQTT packets of every type received.</param>
/// <param name="PacketsSent">MQTT packets of every type sent.</param>
/// <param name="BytesReceived">Bytes received by MQTT connections.</param>
/// <param name="BytesSent">Bytes sent by MQTT connections.</param>
internal sealed record BrokerCounters(
    string Broker,
    int Connections,
    int Sessions,
    int Subscriptions,
    int RetainedMessages,
    int RetainedSysMessages,
    long QueuedMessages,
    long ConnectionsAccepted,
    long ConnectionsRefused,
    long MessagesReceived,
    long MessagesDelivered,
    long MessagesDropped,
    long StuckClientsDisconnected,
    long PacketsReceived,
    long PacketsSent,
    long BytesReceived,
    long BytesSent);

/// <summary>The statistics summary: every broker, and their totals.</summary>
/// <param name="Total">All brokers summed (broker "*").</param>
/// <param name="Brokers">Each broker, by name.</param>
internal sealed record StatisticsSummary(BrokerCounters Total, IReadOnlyList<BrokerCounters> Brokers);

/// <summary>One series of the history: a value per time of <see cref="StatisticsHistory.Timestamps"/>.</summary>
/// <param name="Name">The series, e.g. messages_in.</param>
/// <param name="Unit">e.g. messages/s: counters are rates per second since the previous sample.</param>
/// <param name="Values">Oldest first; null where there was nothing to measure (a latency with no delivery).</param>
internal sealed record HistorySeriesValues(string Name, string Unit, IReadOnlyList<double?> Values);

/// <summary>The history of some series over a range, all brokers summed.</summary>
/// <param name="Range">15m, 1h, 6h or 24h.</param>
/// <param name="IntervalSeconds">Seconds between samples (10).</param>
/// <param name="Timestamps">When each sample was taken, oldest first; fewer than the range holds when the server started within it.</param>
/// <param name="Series">The series asked for, in the order asked.</param>
internal sealed record StatisticsHistory(string Range, int IntervalSeconds, IReadOnlyList<DateTimeOffset> Timestamps, IReadOnlyList<HistorySeriesValues> Series);

/// <summary>GET /api/v1/statistics and /api/v1/statistics/history.</summary>
internal static class StatisticsApi
{
    public static IEndpointRouteBuilder MapStatisticsApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/statistics", Get).WithTags("Statistics").WithName("GetStatistics")
            .WithSummary("Counters of every broker since it started (connections, sessions, messages and bytes in and out, drops), and their totals.");
        api.MapGet("/statistics/history", GetHistory).WithTags("Statistics").WithName("GetStatisticsHistory")
            .WithSummary("The history of key series of all brokers (summed), one sample every 10 seconds, kept 24 hours: " +
                "connections, queued messages, message, byte, authentication failure and drop rates, delivery latency p99.")
            .WithDescription("Series: " + string.Join(", ", HistorySeries.All.Select(static s => $"{s.Name} ({s.Unit})")) +
                ". Counters are rates per second over the 10 seconds before their sample. Ranges: " + string.Join(", ", HistoryRange.All.Select(static r => r.Name)) +
                ". An unknown series or range answers 400 naming the parameter and the valid values.");
        return api;
    }

    private static Results<Ok<StatisticsHistory>, ValidationProblem> GetHistory(MetricsHistory history, TimeProvider time,
        [Description("Comma-separated series names, e.g. connections,messages_in (default: all; each is listed in the description).")] string? series = null,
        [Description("15m (default), 1h, 6h or 24h.")] string? range = null)
    {
        var errors = new ValidationErrors();
        var span = string.IsNullOrEmpty(range) ? HistoryRange.FifteenMinutes : HistoryRange.Find(range);
        if (span is null)
        {
            errors.Add("range", "must be one of " + string.Join(", ", HistoryRange.All.Select(static r => r.Name)) + ".");
        }

        var wanted = new List<HistorySeries>();
        foreach (var name in string.IsNullOrEmpty(series) ? [] : series.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (HistorySeries.Find(name) is { } found)
            {
                wanted.Add(found);
            }
            else
            {
                errors.Add("series", $"has an unknown series '{name}': the series are " + string.Join(", ", HistorySeries.All.Select(static s => s.Name)) + ".");
            }
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var chosen = wanted.Count == 0 ? HistorySeries.All : wanted.Distinct().ToList();
        var window = history.Read(chosen, span!, time.GetUtcNow());
        return TypedResults.Ok(new StatisticsHistory(span!.Name, (int)MetricsHistory.Interval.TotalSeconds, window.Times,
            [.. chosen.Select((s, i) => new HistorySeriesValues(s.Name, s.Unit, [.. window.Values[i].Select(static v => double.IsNaN(v) ? (double?)null : v)]))]));
    }

    private static Ok<StatisticsSummary> Get(BrokerRegistry registry)
    {
        var brokers = registry.Brokers.OrderBy(static b => b.Key, StringComparer.Ordinal).Select(static b => Read(b.Key, b.Value)).ToList();
        var total = new BrokerCounters("*", brokers.Sum(static b => b.Connections), brokers.Sum(static b => b.Sessions), brokers.Sum(static b => b.Subscriptions),
            brokers.Sum(static b => b.RetainedMessages), brokers.Sum(static b => b.RetainedSysMessages), brokers.Sum(static b => b.QueuedMessages), brokers.Sum(static b => b.ConnectionsAccepted),
            brokers.Sum(static b => b.ConnectionsRefused), brokers.Sum(static b => b.MessagesReceived), brokers.Sum(static b => b.MessagesDelivered),
            brokers.Sum(static b => b.MessagesDropped), brokers.Sum(static b => b.StuckClientsDisconnected), brokers.Sum(static b => b.PacketsReceived),
            brokers.Sum(static b => b.PacketsSent), brokers.Sum(static b => b.BytesReceived), brokers.Sum(static b => b.BytesSent));
        return TypedResults.Ok(new StatisticsSummary(total, brokers));
    }

    private static BrokerCounters Read(string name, MqttBroker broker)
    {
        var sessions = broker.GetSessions();
        var s = broker.Statistics;
        return new BrokerCounters(name, sessions.Count(static x => x.IsConnected), sessions.Count, broker.SubscriptionCount, broker.RetainedCount, broker.RetainedSysCount,
            sessions.Sum(static x => (long)x.QueuedMessages), s.ConnectionsAccepted, s.ConnectionsRefused, s.MessagesReceived, s.MessagesDelivered,
            s.MessagesDropped, s.StuckClientsDisconnected, s.PacketsReceived, s.PacketsSent, s.BytesReceived, s.BytesSent);
    }
}
