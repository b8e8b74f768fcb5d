using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>The admin API against real MQTT clients on the host's real listener.</summary>
public sealed class AdminApiTests(AdminApiHost host) : IClassFixture<AdminApiHost>
{
    [Theory]
    [InlineData("/api/v1/clients?pageSize=0", "pageSize")]
    [InlineData("/api/v1/clients?pageSize=501", "pageSize")]
    [InlineData("/api/v1/sessions?page=0", "page")]
    [InlineData("/api/v1/retained?topicFilter=a/%23/b", "topicFilter")]
    [InlineData("/api/v1/retained?topic=a/%23", "topic")]
    [InlineData("/api/v1/retained?topic=a&topicFilter=a", "topic")]
    [InlineData("/api/v1/listeners?protocol=ftp", "protocol")]
    public async Task Bad_query_values_are_400_with_the_field(string path, string field)
    {
        var admin = await host.AdminAsync();

        var problem = await ProblemAssert.IsProblemAsync(await admin.GetAsync(path), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task A_query_value_of_the_wrong_type_is_400_saying_which()
    {
        var admin = await host.AdminAsync();

        var problem = await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/clients?page=abc"), HttpStatusCode.BadRequest);
        Assert.Contains("abc", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_400()
    {
        var admin = await host.AdminAsync();
        using var content = new StringContent("{not json", System.Text.Encoding.UTF8, "application/json");

        var problem = await ProblemAssert.IsProblemAsync(await admin.PostAsync("/api/v1/publish", content), HttpStatusCode.BadRequest);
        Assert.Contains("JSON", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_publish_lists_every_problem()
    {
        var admin = await host.AdminAsync();

        var response = await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "a/+/b", qos = 3, encoding = "Base64", payload = "not base64!" });

        var errors = (await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest)).GetProperty("errors");
        Assert.True(errors.TryGetProperty("topic", out _));
        Assert.True(errors.TryGetProperty("qos", out _));
        Assert.True(errors.TryGetProperty("payload", out _));
    }

    [Fact]
    public async Task An_unknown_broker_is_404_problem()
    {
        var admin = await host.AdminAsync();

        var problem = await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/clients?broker=nope"), HttpStatusCode.NotFound);
        Assert.Contains("nope", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clients_are_paged_and_filtered()
    {
        var admin = await host.AdminAsync();
        var clients = new List<MqttTestClient>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                clients.Add(await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, $"paged-{i}"));
            }

            var seen = new List<string>();
            for (var page = 1; page <= 3; page++)
            {
                var body = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/clients?clientId=paged-&pageSize=2&page={page}");
                Assert.Equal(5, body.GetProperty("totalCount").GetInt32());
                Assert.Equal(3, body.GetProperty("totalPages").GetInt32());
                seen.AddRange(body.GetProperty("items").EnumerateArray().Select(static c => c.GetProperty("clientId").GetString()!));
            }

            Assert.Equal(Enumerable.Range(0, 5).Select(static i => $"paged-{i}"), seen);
            var beyond = await admin.GetFromJsonAsync<JsonElement>("/api/v1/clients?clientId=paged-&pageSize=2&page=4");
            Assert.Equal(0, beyond.GetProperty("items").GetArrayLength());

            var byIp = await admin.GetFromJsonAsync<JsonElement>("/api/v1/clients?clientId=paged-&ip=127.0.0.1");
            Assert.Equal(5, byIp.GetProperty("totalCount").GetInt32());
            var otherIp = await admin.GetFromJsonAsync<JsonElement>("/api/v1/clients?clientId=paged-&ip=10.");
            Assert.Equal(0, otherIp.GetProperty("totalCount").GetInt32());

            // By the user name sent in CONNECT: exact and case-sensitive.
            var named = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint);
            clients.Add(named);
            await named.ConnectAcceptedAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V311, ClientId = "named-user", CleanStart = true, UserName = "field-unit" });
            var byUser = await admin.GetFromJsonAsync<JsonElement>("/api/v1/clients?user=field-unit");
            var listed = Assert.Single(byUser.GetProperty("items").EnumerateArray());
            Assert.Equal("named-user", listed.GetProperty("clientId").GetString());
            Assert.Equal("field-unit", listed.GetProperty("userName").GetString());
            Assert.Equal(0, (await admin.GetFromJsonAsync<JsonElement>("/api/v1/clients?user=field")).GetProperty("totalCount").GetInt32());
            Assert.Equal(0, (await admin.GetFromJsonAsync<JsonElement>("/api/v1/clients?user=Field-Unit")).GetProperty("totalCount").GetInt32());
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Disconnecting_a_client_through_the_api_closes_its_connection()
    {
        var admin = await host.AdminAsync();
        await using var client = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "to-disconnect", MqttProtocolVersion.V500);

        var details = await admin.GetFromJsonAsync<JsonElement>("/api/v1/clients/to-disconnect");
        Assert.Equal("5.0", details.GetProperty("client").GetProperty("protocolVersion").GetString());
        var response = await admin.PostAsync("/api/v1/clients/to-disconnect/disconnect", null);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var last = await client.DrainUntilClosedAsync();
        Assert.Contains(last, static p => p.Control is DisconnectPacket { ReasonCode: ReasonCode.AdministrativeAction });
        await ProblemAssert.IsProblemAsync(await admin.PostAsync("/api/v1/clients/to-disconnect/disconnect", null), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Publishing_through_the_api_reaches_a_real_subscriber_with_its_properties()
    {
        var admin = await host.AdminAsync();
        await using var subscriber = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "api-subscriber", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("api/publish/#", QualityOfService.AtLeastOnce);

        var response = await admin.PostAsJsonAsync("/api/v1/publish", new
        {
            topic = "api/publish/one",
            payload = Convert.ToBase64String([0, 1, 2, 255]),
            encoding = "Base64",
            qos = 1,
            properties = new { contentType = "application/octet-stream", userProperties = new[] { new { name = "origin", value = "api" } } },
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("subscribersReached").GetInt32());
        var received = await subscriber.ExpectPublishAsync();
        Assert.Equal("api/publish/one", received.Topic);
        Assert.Equal([0, 1, 2, 255], received.Payload);
        Assert.Equal(QualityOfService.AtLeastOnce, received.QualityOfService);
        Assert.Equal("application/octet-stream", received.Properties.ContentType);
        Assert.Equal([new UserProperty("origin", "api")], received.Properties.UserProperties!);
    }

    [Fact]
    public async Task Retained_messages_are_set_read_and_deleted_through_the_api()
    {
        var admin = await host.AdminAsync();

        var set = await admin.PutAsJsonAsync("/api/v1/retained/api/retained/lamp", new { payload = "on", qos = 1, properties = new { contentType = "text/plain" } });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);

        // A real client that subscribes now gets it as retained.
        await using (var subscriber = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "retained-reader", MqttProtocolVersion.V500))
        {
            await subscriber.SubscribeAsync("api/retained/+", QualityOfService.AtLeastOnce);
            var received = await subscriber.ExpectPublishAsync();
            Assert.Equal(("api/retained/lamp", "on", true), (received.Topic, received.PayloadText, received.Retain));
        }

        var read = await admin.GetFromJsonAsync<JsonElement>("/api/v1/retained/api/retained/lamp");
        Assert.Equal("on", read.GetProperty("payloadText").GetString());
        Assert.Equal("text/plain", read.GetProperty("properties").GetProperty("contentType").GetString());
        var listed = await admin.GetFromJsonAsync<JsonElement>("/api/v1/retained?topicFilter=api/retained/%23");
        Assert.Equal(["api/retained/lamp"], listed.GetProperty("items").EnumerateArray().Select(static m => m.GetProperty("topic").GetString()));

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/retained/api/retained/lamp")).StatusCode);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/retained/api/retained/lamp"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.DeleteAsync("/api/v1/retained/api/retained/lamp"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Retained_messages_are_deleted_by_topic_filter_in_one_audited_change()
    {
        var admin = await host.AdminAsync();
        foreach (var topic in new[] { "bulk/a", "bulk/b/c", "kept/a" })
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/v1/retained/{topic}", new { payload = "x" })).StatusCode);
        }

        var missingFilter = await admin.DeleteAsync("/api/v1/retained");
        var deleted = await admin.DeleteAsync("/api/v1/retained?topicFilter=bulk/%23");

        await ProblemAssert.IsProblemAsync(missingFilter, HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal(2, (await deleted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("deleted").GetInt32());
        var left = await admin.GetFromJsonAsync<JsonElement>("/api/v1/retained?topicFilter=%2B/%23");
        var topics = left.GetProperty("items").EnumerateArray().Select(static m => m.GetProperty("topic").GetString()).ToList();
        Assert.Contains("kept/a", topics);
        Assert.DoesNotContain(topics, static t => t!.StartsWith("bulk/", StringComparison.Ordinal));
        var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?actor=admin&pageSize=500");
        Assert.Single(log.GetProperty("items").EnumerateArray(), static e => e.GetProperty("action").GetString() == "DELETE /api/v1/retained?topicFilter=bulk/%23");
    }

    [Fact]
    public async Task Clients_are_disconnected_by_filter_in_one_audited_change()
    {
        var admin = await host.AdminAsync();
        await using var first = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "bulk-disconnect-1", MqttProtocolVersion.V500);
        await using var second = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "bulk-disconnect-2", MqttProtocolVersion.V311);
        await using var kept = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "kept-connected", MqttProtocolVersion.V500);

        var noFilter = await admin.PostAsync("/api/v1/clients/disconnect", null);
        var response = await admin.PostAsync("/api/v1/clients/disconnect?clientId=bulk-disconnect-", null);

        await ProblemAssert.IsProblemAsync(noFilter, HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("disconnected").GetInt32());
        Assert.Contains(await first.DrainUntilClosedAsync(), static p => p.Control is DisconnectPacket { ReasonCode: ReasonCode.AdministrativeAction });
        await second.DrainUntilClosedAsync();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/clients/kept-connected")).StatusCode);
        var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?actor=admin&pageSize=500");
        Assert.Single(log.GetProperty("items").EnumerateArray(),
            static e => e.GetProperty("action").GetString() == "POST /api/v1/clients/disconnect?clientId=bulk-disconnect-");
    }

    [Fact]
    public async Task A_subscription_added_on_a_clients_behalf_delivers_to_it_and_can_be_removed()
    {
        var admin = await host.AdminAsync();
        await using var client = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "managed-client");
        await using var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "managed-publisher");

        var added = await admin.PostAsJsonAsync("/api/v1/subscriptions", new { clientId = "managed-client", topicFilter = "managed/+", qos = 1 });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var listed = await admin.GetFromJsonAsync<JsonElement>("/api/v1/subscriptions?clientId=managed-client");
        var only = Assert.Single(listed.GetProperty("items").EnumerateArray());
        Assert.Equal(("managed/+", 1), (only.GetProperty("topicFilter").GetString(), only.GetProperty("qos").GetInt32()));

        await publisher.PublishAndWaitAsync("managed/one", "hello");
        Assert.Equal("hello", (await client.ExpectPublishAsync()).PayloadText);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/subscriptions?clientId=managed-client&topicFilter=managed%2F%2B")).StatusCode);
        var after = await admin.GetFromJsonAsync<JsonElement>("/api/v1/subscriptions?clientId=managed-client");
        Assert.Equal(0, after.GetProperty("totalCount").GetInt32());
        var invalid = await admin.PostAsJsonAsync("/api/v1/subscriptions", new { clientId = "managed-client", topicFilter = "a/#/b" });
        await ProblemAssert.IsProblemAsync(invalid, HttpStatusCode.BadRequest);
        var nobody = await admin.PostAsJsonAsync("/api/v1/subscriptions", new { clientId = "nobody-here", topicFilter = "a" });
        await ProblemAssert.IsProblemAsync(nobody, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Sessions_show_their_queue_depth_and_can_be_deleted()
    {
        var admin = await host.AdminAsync();
        var offline = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "offline-session", cleanStart: false);
        await offline.SubscribeAsync("queued/#", QualityOfService.AtLeastOnce);
        await offline.DisconnectAsync();
        await offline.DisposeAsync();
        await using (var publisher = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "queue-filler"))
        {
            await publisher.PublishAndWaitAsync("queued/a", "1");
            await publisher.PublishAndWaitAsync("queued/b", "2");
        }

        var session = await admin.GetFromJsonAsync<JsonElement>("/api/v1/sessions/offline-session");
        Assert.False(session.GetProperty("connected").GetBoolean());
        Assert.Equal(2, session.GetProperty("queuedMessages").GetInt32() + session.GetProperty("inflightMessages").GetInt32());
        var queued = await admin.GetFromJsonAsync<JsonElement>("/api/v1/sessions?connected=false&minQueued=1");
        Assert.Contains(queued.GetProperty("items").EnumerateArray(), static s => s.GetProperty("clientId").GetString() == "offline-session");

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/sessions/offline-session")).StatusCode);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/sessions/offline-session"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Brokers_listeners_and_statistics_describe_the_server()
    {
        var admin = await host.AdminAsync();

        var brokers = await admin.GetFromJsonAsync<JsonElement>("/api/v1/brokers");
        var broker = Assert.Single(brokers.GetProperty("items").EnumerateArray());
        Assert.Equal(("default", "Running"), (broker.GetProperty("name").GetString(), broker.GetProperty("state").GetString()));
        // Its listener, and MQTT over WebSocket at /mqtt on the HTTP port.
        Assert.Equal(
            [("default", host.MqttEndpoint.Port, $"tcp://{host.MqttEndpoint}", true), ("http", host.BaseAddress.Port, $"ws://127.0.0.1:{host.BaseAddress.Port}/mqtt", true)],
            broker.GetProperty("listeners").EnumerateArray().Select(static l =>
                (l.GetProperty("name").GetString(), l.GetProperty("port").GetInt32(), l.GetProperty("url").GetString(), l.GetProperty("bound").GetBoolean())));

        var listeners = await admin.GetFromJsonAsync<JsonElement>("/api/v1/listeners?protocol=http");
        Assert.Equal(host.Client.BaseAddress!.Port, Assert.Single(listeners.GetProperty("items").EnumerateArray()).GetProperty("port").GetInt32());

        await using var client = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "statistics-client");
        await client.PublishAndWaitAsync("statistics/topic", "x");
        var statistics = await admin.GetFromJsonAsync<JsonElement>("/api/v1/statistics");
        Assert.True(statistics.GetProperty("total").GetProperty("messagesReceived").GetInt64() >= 1);
        Assert.True(statistics.GetProperty("total").GetProperty("connections").GetInt32() >= 1);
        Assert.Equal("default", Assert.Single(statistics.GetProperty("brokers").EnumerateArray()).GetProperty("broker").GetString());
    }

    [Fact]
    public async Task Brokers_and_statistics_count_the_sys_retained_messages_apart_from_those_that_hash_matches()
    {
        var admin = await host.AdminAsync();
        await using (var client = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "retained-split-client"))
        {
            await client.PublishAndWaitAsync("split/retained", "x", retain: true);
        }

        // The broker's own $SYS/broker/... topics, retained once its monitor has published them.
        await Poll.UntilAsync(async () => await TotalAsync("$SYS/%23") > 0);
        var matched = await TotalAsync("%23");
        var sys = await TotalAsync("$SYS/%23");
        Assert.True(matched >= 1);

        var broker = await admin.GetFromJsonAsync<JsonElement>("/api/v1/brokers/default");
        Assert.Equal((matched + sys, sys), (broker.GetProperty("retainedMessages").GetInt32(), broker.GetProperty("retainedSysMessages").GetInt32()));
        var statistics = await admin.GetFromJsonAsync<JsonElement>("/api/v1/statistics");
        foreach (var counters in new[] { statistics.GetProperty("total"), Assert.Single(statistics.GetProperty("brokers").EnumerateArray()) })
        {
            Assert.Equal((matched + sys, sys), (counters.GetProperty("retainedMessages").GetInt32(), counters.GetProperty("retainedSysMessages").GetInt32()));
        }

        async Task<int> TotalAsync(string filter) =>
            (await admin.GetFromJsonAsync<JsonElement>("/api/v1/retained?pageSize=1&topicFilter=" + filter)).GetProperty("totalCount").GetInt32();
    }
}
