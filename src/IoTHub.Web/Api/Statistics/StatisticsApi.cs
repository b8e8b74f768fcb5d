using IoTHub.Broker;
using IoTHub.Web.Mqtt;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Statistics;

/// <summary>The counters of one broker (or of all brokers summed) since it started.</summary>
internal sealed record BrokerCounters(
    string Broker,
    int Connections,
    int Sessions,
    int Subscriptions,
    int RetainedMessages,
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

/// <summary>GET /api/v1/statistics.</summary>
internal static class StatisticsApi
{
    public static IEndpointRouteBuilder MapStatisticsApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/statistics", Get).WithTags("Statistics").WithName("GetStatistics")
            .WithSummary("Counters of every broker since it started (connections, sessions, messages and bytes in and out, drops), and their totals.");
        return api;
    }

    private static Ok<StatisticsSummary> Get(BrokerRegistry registry)
    {
        var brokers = registry.Brokers.OrderBy(static b => b.Key, StringComparer.Ordinal).Select(static b => Read(b.Key, b.Value)).ToList();
        var total = new BrokerCounters("*", brokers.Sum(static b => b.Connections), brokers.Sum(static b => b.Sessions), brokers.Sum(static b => b.Subscriptions),
            brokers.Sum(static b => b.RetainedMessages), brokers.Sum(static b => b.QueuedMessages), brokers.Sum(static b => b.ConnectionsAccepted),
            brokers.Sum(static b => b.ConnectionsRefused), brokers.Sum(static b => b.MessagesReceived), brokers.Sum(static b => b.MessagesDelivered),
            brokers.Sum(static b => b.MessagesDropped), brokers.Sum(static b => b.StuckClientsDisconnected), brokers.Sum(static b => b.PacketsReceived),
            brokers.Sum(static b => b.PacketsSent), brokers.Sum(static b => b.BytesReceived), brokers.Sum(static b => b.BytesSent));
        return TypedResults.Ok(new StatisticsSummary(total, brokers));
    }

    private static BrokerCounters Read(string name, MqttBroker broker)
    {
        var sessions = broker.GetSessions();
        var s = broker.Statistics;
        return new BrokerCounters(name, sessions.Count(static x => x.IsConnected), sessions.Count, broker.SubscriptionCount, broker.RetainedCount,
            sessions.Sum(static x => (long)x.QueuedMessages), s.ConnectionsAccepted, s.ConnectionsRefused, s.MessagesReceived, s.MessagesDelivered,
            s.MessagesDropped, s.StuckClientsDisconnected, s.PacketsReceived, s.PacketsSent, s.BytesReceived, s.BytesSent);
    }
}
