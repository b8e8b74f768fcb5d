using System.ComponentModel;
using IoTHub.Broker;
using IoTHub.Web.Api.Clients;
using IoTHub.Web.Api.Sessions;
using IoTHub.Web.Mqtt;
using Microsoft.AspNetCore.Mvc;

namespace IoTHub.Web.Api.Subscriptions;

/// <summary>What a list of subscriptions is ordered by.</summary>
internal enum SubscriptionSort
{
    /// <summary>The client id, then the topic filter, then the broker.</summary>
    ClientId,

    /// <summary>The topic filter, then the client id, then the broker.</summary>
    TopicFilter,
}

/// <summary>
/// The criteria and order of a list of subscriptions, shared by <c>GET /api/v1/subscriptions</c> and the dashboard: every
/// criterion given must hold; one page is selected without sorting them all (<see cref="PageSelection"/>).
/// </summary>
internal sealed class SubscriptionListQuery : ClientIdCriterion
{
    [FromQuery(Name = "topicFilter")]
    [Description("Only subscriptions with exactly this topic filter.")]
    public string? TopicFilter { get; set; }

    [FromQuery(Name = "sort")]
    [Description("What the list is ordered by: ClientId (the default) or TopicFilter.")]
    public SubscriptionSort? Sort { get; set; }

    [FromQuery(Name = "order")]
    [Description("Asc (the default) or Desc.")]
    public SortOrder? Order { get; set; }

    private ClientIdMatch Match => ClientIdMatch ?? Sessions.ClientIdMatch.Exact;

    public void Validate(ValidationErrors errors)
    {
        Enums.Check(errors, "clientIdMatch", Match);
        Enums.Check(errors, "sort", Sort ?? SubscriptionSort.ClientId);
        Enums.Check(errors, "order", Order ?? SortOrder.Asc);
    }

    /// <summary>The requested page of the matching subscriptions of <paramref name="brokers"/>, in order.</summary>
    public ResultPage<SubscriptionInfo> Page(IEnumerable<KeyValuePair<string, MqttBroker>> brokers, PageQuery paging)
    {
        var order = new SubscriptionOrder(Sort ?? SubscriptionSort.ClientId, Order ?? SortOrder.Asc);
        return paging.Select(Find(brokers), order.Rank, order).Map(static s => SubscriptionInfo.From(s.Broker, s.Subscription));
    }

    private IEnumerable<BrokerSubscription> Find(IEnumerable<KeyValuePair<string, MqttBroker>> brokers)
    {
        foreach (var (name, broker) in brokers)
        {
            var candidates = Match == Sessions.ClientIdMatch.Exact && ClientId is not null
                ? broker.GetSubscriptions(ClientId) ?? []
                : broker.EnumerateSubscriptions();
            foreach (var subscription in candidates)
            {
                if (ClientIds.Match(subscription.ClientId, ClientId, Match) && (TopicFilter is null || subscription.TopicFilter == TopicFilter))
                {
                    yield return new BrokerSubscription(name, subscription);
                }
            }
        }
    }

    private readonly record struct BrokerSubscription(string Broker, SubscriptionSnapshot Subscription);

    /// <summary>What a subscription is ordered by: the text the list is sorted by, the other one, the broker.</summary>
    private readonly record struct SubscriptionRank(string Leading, string Other, string Broker);

    /// <summary>The leading text in the direction asked for; ties by the other text, then the broker, ascending.</summary>
    private readonly struct SubscriptionOrder(SubscriptionSort sort, SortOrder order) : IComparer<SubscriptionRank>
    {
        private readonly int _direction = order == SortOrder.Desc ? -1 : 1;

        public SubscriptionRank Rank(BrokerSubscription item) => sort == SubscriptionSort.TopicFilter
            ? new SubscriptionRank(item.Subscription.TopicFilter, item.Subscription.ClientId, item.Broker)
            : new SubscriptionRank(item.Subscription.ClientId, item.Subscription.TopicFilter, item.Broker);

        // Each comparison only when the one before it ties: most pairs differ in their leading text.
        public int Compare(SubscriptionRank x, SubscriptionRank y) =>
            string.CompareOrdinal(x.Leading, y.Leading) is var first and not 0 ? first * _direction
            : string.CompareOrdinal(x.Other, y.Other) is var second and not 0 ? second
            : string.CompareOrdinal(x.Broker, y.Broker);
    }
}
