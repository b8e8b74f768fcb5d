using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;
using IoTHub.Web.Api;
using IoTHub.Web.Mqtt;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests;

/// <summary>
/// The lists of sessions, clients and subscriptions: exact and substring client ids, state and queue depth filters, sort
/// and order, over sessions made through the engine (<see cref="SessionFleet"/>) and clients connected over real sockets.
/// </summary>
public sealed class SessionListTests(SessionListTests.FleetHost host) : IClassFixture<SessionListTests.FleetHost>
{
    /// <summary>Offline sessions list-000000 to list-000139, holding i % 7 queued messages each.</summary>
    private const int Fleet = 140;

    [Fact]
    public async Task A_client_id_matches_as_a_substring_by_default_and_exactly_when_asked()
    {
        var admin = await host.AdminAsync();

        var contains = await PageAsync(admin, "/api/v1/sessions?clientId=list-00004");
        var exact = await PageAsync(admin, "/api/v1/sessions?clientId=list-000042&clientIdMatch=Exact");
        var exactOfPart = await PageAsync(admin, "/api/v1/sessions?clientId=list-00004&clientIdMatch=Exact");
        var subscriptionsContain = await PageAsync(admin, "/api/v1/subscriptions?clientId=list-00004&clientIdMatch=Contains");
        var subscriptionsExact = await PageAsync(admin, "/api/v1/subscriptions?clientId=list-00004");

        Assert.Equal([.. Enumerable.Range(40, 10).Select(static i => SessionFleet.ClientId("list-", i))], ClientIds(contains));
        Assert.Equal(["list-000042"], ClientIds(exact));
        Assert.Equal(0, exactOfPart.GetProperty("totalCount").GetInt32());
        Assert.Equal(10, subscriptionsContain.GetProperty("totalCount").GetInt32());
        Assert.Equal(0, subscriptionsExact.GetProperty("totalCount").GetInt32());
    }

    [Fact]
    public async Task Sessions_are_filtered_by_state_and_queue_depth_and_sorted_by_queue_depth_with_ties_by_client_id()
    {
        var admin = await host.AdminAsync();

        var deep = await PageAsync(admin, "/api/v1/sessions?clientId=list-&connected=false&minQueued=6&pageSize=500");
        var byQueue = await PageAsync(admin, "/api/v1/sessions?clientId=list-&sort=Queued&order=Desc&pageSize=30&page=2");

        var expectedDeep = Enumerable.Range(0, Fleet).Where(static i => i % 7 == 6).Select(static i => SessionFleet.ClientId("list-", i)).ToList();
        Assert.Equal(expectedDeep, ClientIds(deep));
        Assert.All(deep.GetProperty("items").EnumerateArray(), static s => Assert.Equal(6, s.GetProperty("queuedMessages").GetInt32()));

        // Descending by queue, then ascending by client id: the whole order, and page 2 of it.
        var expectedOrder = Enumerable.Range(0, Fleet).OrderByDescending(static i => i % 7).ThenBy(static i => i)
            .Select(static i => SessionFleet.ClientId("list-", i)).Skip(30).Take(30).ToList();
        Assert.Equal(expectedOrder, ClientIds(byQueue));
        Assert.Equal(Fleet, byQueue.GetProperty("totalCount").GetInt32());
    }

    [Fact]
    public async Task Connected_clients_sort_by_connection_time_and_in_flight_messages()
    {
        var admin = await host.AdminAsync();
        var broker = host.Services.GetRequiredService<BrokerRegistry>().Default;
        await using var first = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "sorted-first");
        await Poll.UntilAsync(() => broker.GetSession("sorted-first")?.ConnectedAt is { } at && DateTimeOffset.UtcNow > at);
        await using var second = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "sorted-second");

        // The second takes a QoS 1 message and never acknowledges it: one message in flight.
        await second.SubscribeAsync("sorted/inflight", QualityOfService.AtLeastOnce);
        (await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "sorted/inflight", payload = "x", qos = 1 })).EnsureSuccessStatusCode();
        await second.ExpectPublishAsync();

        var newestFirst = await PageAsync(admin, "/api/v1/clients?clientId=sorted-&sort=ConnectedAt&order=Desc");
        var oldestFirst = await PageAsync(admin, "/api/v1/clients?clientId=sorted-&sort=ConnectedAt&order=Asc");
        var sessionsByTime = await PageAsync(admin, "/api/v1/sessions?sort=ConnectedAt&pageSize=500");
        var byInflight = await PageAsync(admin, "/api/v1/sessions?sort=Inflight&order=Desc&pageSize=1");

        Assert.Equal(["sorted-second", "sorted-first"], ClientIds(newestFirst));
        Assert.Equal(["sorted-first", "sorted-second"], ClientIds(oldestFirst));
        Assert.True(newestFirst.GetProperty("items")[0].GetProperty("connectedAt").GetDateTimeOffset()
            > newestFirst.GetProperty("items")[1].GetProperty("connectedAt").GetDateTimeOffset());

        // Offline sessions come after the connected ones, in either order.
        var connected = sessionsByTime.GetProperty("items").EnumerateArray().Select(static s => s.GetProperty("connected").GetBoolean()).ToList();
        Assert.Equal(connected.OrderByDescending(static c => c), connected);
        Assert.Equal(JsonValueKind.Null, sessionsByTime.GetProperty("items")[connected.Count - 1].GetProperty("connectedAt").ValueKind);

        Assert.Equal(["sorted-second"], ClientIds(byInflight));
        Assert.Equal(1, byInflight.GetProperty("items")[0].GetProperty("inflightMessages").GetInt32());
    }

    [Fact]
    public async Task Subscriptions_sort_by_topic_filter_or_client_id_either_way()
    {
        var admin = await host.AdminAsync();

        var byFilter = await PageAsync(admin, "/api/v1/subscriptions?clientId=list-00001&clientIdMatch=Contains&sort=TopicFilter&order=Desc");
        var byClient = await PageAsync(admin, "/api/v1/subscriptions?clientId=list-00001&clientIdMatch=Contains&order=Desc&pageSize=3&page=2");

        var expected = Enumerable.Range(10, 10).Reverse().Select(static i => SessionFleet.TopicOf(SessionFleet.ClientId("list-", i))).ToList();
        Assert.Equal(expected, byFilter.GetProperty("items").EnumerateArray().Select(static s => s.GetProperty("topicFilter").GetString()));
        Assert.Equal(["list-000016", "list-000015", "list-000014"], ClientIds(byClient));
    }

    [Theory]
    [InlineData("/api/v1/sessions?sort=Depth", "sort")]
    [InlineData("/api/v1/sessions?sort=7", "sort")]
    [InlineData("/api/v1/sessions?order=up", "order")]
    [InlineData("/api/v1/sessions?order=5", "order")]
    [InlineData("/api/v1/sessions?clientIdMatch=prefix", "clientIdMatch")]
    [InlineData("/api/v1/sessions?minQueued=-1", "minQueued")]
    [InlineData("/api/v1/clients?sort=9", "sort")]
    [InlineData("/api/v1/clients?minQueued=-3", "minQueued")]
    [InlineData("/api/v1/clients?clientIdMatch=3", "clientIdMatch")]
    [InlineData("/api/v1/subscriptions?sort=Queued", "sort")]
    [InlineData("/api/v1/subscriptions?sort=4", "sort")]
    [InlineData("/api/v1/subscriptions?clientIdMatch=2", "clientIdMatch")]
    [InlineData("/api/v1/subscriptions?order=3", "order")]
    [InlineData("/api/v1/clients/disconnect?clientId=x&clientIdMatch=9", "clientIdMatch")]
    public async Task A_bad_sort_order_or_match_is_refused_naming_the_field(string request, string field)
    {
        var admin = await host.AdminAsync();

        var response = request.Contains("/disconnect", StringComparison.Ordinal) ? await admin.PostAsync(request, null) : await admin.GetAsync(request);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.StartsWith("must be", problem.GetProperty("errors").GetProperty(field)[0].GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/v1/sessions", "sort", "ClientId,Queued,Inflight,ConnectedAt")]
    [InlineData("/api/v1/sessions", "clientIdMatch", "Contains,Exact")]
    [InlineData("/api/v1/clients", "order", "Asc,Desc")]
    [InlineData("/api/v1/clients", "sort", "ClientId,Queued,Inflight,ConnectedAt")]
    [InlineData("/api/v1/subscriptions", "sort", "ClientId,TopicFilter")]
    [InlineData("/api/v1/subscriptions", "clientIdMatch", "Contains,Exact")]
    public async Task The_openapi_document_names_the_values_of_sort_order_and_match(string path, string parameter, string values)
    {
        var admin = await host.AdminAsync();
        using var document = JsonDocument.Parse(await admin.GetStringAsync("/swagger/v1/swagger.json"));
        var root = document.RootElement;

        var schema = root.GetProperty("paths").GetProperty(path).GetProperty("get").GetProperty("parameters").EnumerateArray()
            .Single(p => p.GetProperty("name").GetString() == parameter).GetProperty("schema");
        if (schema.TryGetProperty("$ref", out var reference))
        {
            schema = root.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]);
        }

        Assert.Equal(values, string.Join(",", schema.GetProperty("enum").EnumerateArray().Select(static v => v.GetString())));
    }

    [Fact]
    public async Task A_bulk_disconnect_may_name_one_client_exactly()
    {
        var admin = await host.AdminAsync();
        await using var one = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "bulk-one");
        await using var other = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "bulk-one-more");

        var response = await admin.PostAsync("/api/v1/clients/disconnect?clientId=bulk-one&clientIdMatch=Exact", null);

        Assert.Equal(1, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("disconnected").GetInt32());
        await one.ExpectClosedAsync();
        Assert.True(host.Services.GetRequiredService<BrokerRegistry>().Default.GetSession("bulk-one-more")?.IsConnected);
    }

    [Theory]
    [InlineData(0, 1, 0)]
    [InlineData(1, 1, 0)]
    [InlineData(30, 7, 2)]
    [InlineData(10_000, 50, 0)]
    [InlineData(10_000, 50, 60)]
    [InlineData(10_000, 50, 100)]
    [InlineData(10_000, 50, 199)]
    [InlineData(10_000, 50, 200)]
    [InlineData(10_000, 500, 9)]
    [InlineData(10_000, 3, 1_500)]
    [InlineData(20_000, 17, 1_000)]
    public void A_page_selected_without_a_full_sort_is_the_page_of_the_full_sort(int count, int size, int pageIndex)
    {
        // Many equal primary keys (value % 13) with a unique tie-break, as the lists order sessions.
        var random = new Random(count + size + pageIndex);
        var items = Enumerable.Range(0, count).Select(i => (Key: random.Next(13), Id: i)).OrderBy(_ => random.Next()).ToList();
        var order = Comparer<(int Key, int Id)>.Create(static (x, y) => x.Key != y.Key ? y.Key.CompareTo(x.Key) : x.Id.CompareTo(y.Id));
        var paging = new PageQuery { Page = pageIndex + 1, PageSize = size };

        var page = paging.Select(items, static item => item, order);

        Assert.Equal(items.Order(order).Skip(pageIndex * size).Take(size), page.Items);
        Assert.Equal(count, page.TotalCount);
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(false, 999)]
    [InlineData(false, 1_999)]
    [InlineData(true, 0)]
    [InlineData(true, 1_000)]
    [InlineData(true, 1_999)]
    public void Items_that_arrive_in_order_or_in_reverse_give_the_same_pages(bool reversed, int pageIndex)
    {
        // Sequential client ids arrive in order: the case a bounded heap handles worst.
        var items = Enumerable.Range(0, 100_000).Select(static i => $"device-{i:D6}").ToList();
        var order = StringComparer.Ordinal;
        var paging = new PageQuery { Page = pageIndex + 1, PageSize = 50 };

        var page = paging.Select(reversed ? Enumerable.Reverse(items) : items, static id => id, order);

        Assert.Equal(items.Skip(pageIndex * 50).Take(50), page.Items);
        Assert.Equal(100_000, page.TotalCount);
    }

    private static async Task<JsonElement> PageAsync(HttpClient client, string request)
    {
        var response = await client.GetAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{request}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private static List<string> ClientIds(JsonElement page) =>
        [.. page.GetProperty("items").EnumerateArray().Select(static s => s.GetProperty("clientId").GetString()!)];

    /// <summary>The API's host with <see cref="Fleet"/> offline sessions made through its engine.</summary>
    public sealed class FleetHost : AdminApiHost
    {
        public FleetHost()
            : base(new Dictionary<string, string> { ["Storage:Provider"] = "memory" })
        {
            SessionFleet.CreateAsync(Services.GetRequiredService<BrokerRegistry>().Default, "list-", Fleet, static i => i % 7).GetAwaiter().GetResult();
        }
    }
}
