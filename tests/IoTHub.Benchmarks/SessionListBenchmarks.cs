using BenchmarkDotNet.Attributes;
using IoTHub.Broker;
using IoTHub.Testing;
using IoTHub.Web.Api;
using IoTHub.Web.Api.Sessions;
using IoTHub.Web.Api.Subscriptions;

namespace IoTHub.Benchmarks;

/// <summary>
/// One page (50 items) of the session, client and subscription lists with 100 000 sessions (made through the engine by
/// <see cref="SessionFleet"/>: offline, 0 to 6 queued messages each, one subscription each), plus 200 connected clients:
/// what <c>GET /api/v1/sessions</c>, <c>/clients</c> and <c>/subscriptions</c> and the dashboard's pages do per request,
/// JSON aside. The target is under 50 ms for any page of any list.
/// </summary>
[MemoryDiagnoser]
[InProcess]
public class SessionListBenchmarks
{
    private const int Fleet = 100_000;
    private const int Connected = 200;
    private readonly List<MqttTestClient> _clients = [];
    private KeyValuePair<string, MqttBroker>[] _brokers = [];
    private MqttBroker _broker = null!;

    [GlobalSetup]
    public void Setup()
    {
        _broker = new MqttBroker(new BrokerOptions());
        _broker.Start();
        SessionFleet.CreateAsync(_broker, "device-", Fleet, static i => i % 7).GetAwaiter().GetResult();
        for (var i = 0; i < Connected; i++)
        {
            _clients.Add(SessionFleet.ConnectAsync(_broker, SessionFleet.ClientId("online-", i), i).GetAwaiter().GetResult());
        }

        _brokers = [new("default", _broker)];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var client in _clients)
        {
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _broker.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Description = "sessions, page 1 by client id")]
    public int FirstPageByClientId() => Sessions(new SessionListQuery(), page: 1);

    [Benchmark(Description = "sessions, page 1 by queue depth, descending")]
    public int FirstPageByQueued() => Sessions(new SessionListQuery { Sort = SessionSort.Queued, Order = SortOrder.Desc }, page: 1);

    [Benchmark(Description = "sessions, page 1 000 (the middle) by queue depth, descending")]
    public int MiddlePageByQueued() => Sessions(new SessionListQuery { Sort = SessionSort.Queued, Order = SortOrder.Desc }, page: 1_000);

    [Benchmark(Description = "sessions, last page by connection time")]
    public int LastPageByConnectedAt() => Sessions(new SessionListQuery { Sort = SessionSort.ConnectedAt }, page: (Fleet + Connected) / 50);

    [Benchmark(Description = "sessions, offline with 5 or more queued, page 10 by in-flight")]
    public int FilteredByInflight() => Sessions(new SessionListQuery { Connected = false, MinQueued = 5, Sort = SessionSort.Inflight }, page: 10);

    [Benchmark(Description = "sessions, client id contains '4242'")]
    public int ContainsClientId() => Sessions(new SessionListQuery { ClientId = "4242" }, page: 1);

    [Benchmark(Description = "sessions, exact client id")]
    public int ExactClientId() => Sessions(new SessionListQuery { ClientId = "device-054321", ClientIdMatch = ClientIdMatch.Exact }, page: 1);

    [Benchmark(Description = "clients (200 connected of 100 200), page 1 by connection time, descending")]
    public int ClientsByConnectedAt() =>
        Sessions(new SessionListQuery { Connected = true, Sort = SessionSort.ConnectedAt, Order = SortOrder.Desc }, page: 1);

    [Benchmark(Description = "subscriptions, page 1 by topic filter")]
    public int SubscriptionsFirstPage() => Subscriptions(new SubscriptionListQuery { Sort = SubscriptionSort.TopicFilter }, page: 1);

    [Benchmark(Description = "subscriptions, page 1 000 by client id, descending")]
    public int SubscriptionsMiddlePage() => Subscriptions(new SubscriptionListQuery { Order = SortOrder.Desc }, page: 1_000);

    private int Sessions(SessionListQuery query, int page) =>
        query.Page(_brokers, new PageQuery { Page = page }).Map(static s => SessionInfo.From(s.Broker, s.Session)).Items.Count;

    private int Subscriptions(SubscriptionListQuery query, int page) => query.Page(_brokers, new PageQuery { Page = page }).Items.Count;
}
