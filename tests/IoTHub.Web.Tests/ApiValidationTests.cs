using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using IoTHub.Testing;
using IoTHub.Web.Api.Publish;

namespace IoTHub.Web.Tests;

/// <summary>A host with a second broker, "small", that keeps no retained messages, takes packets of at most 64 bytes and one subscription per client.</summary>
public sealed class SmallBrokerHost() : AdminApiHost(new Dictionary<string, string>
{
    ["Mqtt:Brokers:small:Port"] = "0",
    ["Mqtt:Brokers:small:RetainAvailable"] = "false",
    ["Mqtt:Brokers:small:MaximumPacketSize"] = "64",
    ["Mqtt:Brokers:small:MaximumSubscriptionsPerClient"] = "1",
});

/// <summary>
/// What the admin API answers to requests it cannot carry out: each refused field named with what it must be, an unknown
/// broker as 404, and a broker's own limits (retain not available, maximum packet size, subscriptions per client) applied
/// to the API's writes as to a client's.
/// </summary>
public sealed class ApiValidationTests(SmallBrokerHost host) : IClassFixture<SmallBrokerHost>
{
    [Fact]
    public async Task A_subscription_request_names_each_missing_or_bad_field()
    {
        var admin = await host.AdminAsync();

        var empty = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/subscriptions", new { }));
        var bad = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/subscriptions", new { clientId = "c", topicFilter = "a", qos = 3, retainHandling = 3 }));
        var negative = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/subscriptions", new { clientId = "c", topicFilter = "a", qos = -1 }));
        var removeNothing = await ErrorsAsync(await admin.DeleteAsync("/api/v1/subscriptions"));

        Assert.Equal(["clientId", "topicFilter"], Fields(empty));
        Assert.Equal("is required.", empty.GetProperty("clientId")[0].GetString());
        Assert.Equal(["qos", "retainHandling"], Fields(bad));
        Assert.Equal("must be 0, 1 or 2.", negative.GetProperty("qos")[0].GetString());
        Assert.Equal(["clientId", "topicFilter"], Fields(removeNothing));
    }

    [Fact]
    public async Task A_subscription_on_a_clients_behalf_keeps_to_the_brokers_limit_per_client()
    {
        var admin = await host.AdminAsync();
        await using var client = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoints["small"], "limited-client");

        var first = await admin.PostAsJsonAsync("/api/v1/subscriptions", new { clientId = "limited-client", topicFilter = "one", broker = "small" });
        var second = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/subscriptions",
            new { clientId = "limited-client", topicFilter = "two", broker = "small" }));
        var removeUnknown = await admin.DeleteAsync("/api/v1/subscriptions?clientId=limited-client&topicFilter=two&broker=small");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal("would exceed the client's limit of 1 subscriptions.", second.GetProperty("topicFilter")[0].GetString());
        await ProblemAssert.IsProblemAsync(removeUnknown, HttpStatusCode.NotFound);
        var listed = await admin.GetFromJsonAsync<JsonElement>("/api/v1/subscriptions?clientId=limited-client&broker=small");
        Assert.Equal(["one"], listed.GetProperty("items").EnumerateArray().Select(static s => s.GetProperty("topicFilter").GetString()));
    }

    [Fact]
    public async Task Every_request_for_a_broker_that_does_not_exist_is_not_found()
    {
        var admin = await host.AdminAsync();

        var responses = new[]
        {
            await admin.GetAsync("/api/v1/brokers/nowhere"),
            await admin.GetAsync("/api/v1/clients/c?broker=nowhere"),
            await admin.PostAsync("/api/v1/clients/c/disconnect?broker=nowhere", null),
            await admin.PostAsync("/api/v1/clients/disconnect?clientId=c&broker=nowhere", null),
            await admin.PostAsJsonAsync("/api/v1/subscriptions", new { clientId = "c", topicFilter = "a", broker = "nowhere" }),
            await admin.DeleteAsync("/api/v1/subscriptions?clientId=c&topicFilter=a&broker=nowhere"),
            await admin.PutAsJsonAsync("/api/v1/retained/a?broker=nowhere", new { payload = "x" }),
            await admin.GetAsync("/api/v1/retained/a?broker=nowhere"),
            await admin.DeleteAsync("/api/v1/retained/a?broker=nowhere"),
            await admin.DeleteAsync("/api/v1/retained?topicFilter=a&broker=nowhere"),
        };

        foreach (var response in responses)
        {
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound);
            Assert.Contains("nowhere", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task One_broker_is_described_by_its_name_with_its_own_listener()
    {
        var admin = await host.AdminAsync();

        var small = await admin.GetFromJsonAsync<JsonElement>("/api/v1/brokers/small");
        var byName = await admin.GetFromJsonAsync<JsonElement>("/api/v1/brokers?name=SMA");

        Assert.Equal("small", small.GetProperty("name").GetString());
        Assert.Equal("Running", small.GetProperty("state").GetString());
        var listener = Assert.Single(small.GetProperty("listeners").EnumerateArray());
        Assert.Equal(host.MqttEndpoints["small"].Port, listener.GetProperty("port").GetInt32());
        Assert.Equal(["small"], byName.GetProperty("items").EnumerateArray().Select(static b => b.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task A_publish_names_each_bad_part_of_the_message()
    {
        var admin = await host.AdminAsync();

        var noTopic = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/publish", new { payload = "x" }));
        var badBase64 = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "t", payload = "not base64!", encoding = "Base64" }));
        var badProperties = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/publish", new
        {
            topic = "t",
            properties = new { correlationData = "not base64!", responseTopic = "replies/#", userProperties = new[] { new { name = "only-a-name" } } },
        }));

        var sysItself = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "$SYS", payload = "x" }));
        var encoding = await PublishErrorsAsync(admin, """{"topic":"t","encoding":7}""");
        var nullItem = await PublishErrorsAsync(admin, """{"topic":"t","properties":{"userProperties":[null]}}""");

        Assert.Equal("is required.", noTopic.GetProperty("topic")[0].GetString());
        Assert.Equal(MessageContent.SystemTopicRefused, sysItself.GetProperty("topic")[0].GetString());
        Assert.Equal("must be Text or Base64.", encoding.GetProperty("encoding")[0].GetString());
        Assert.Equal("every item needs a name and a value.", nullItem.GetProperty("properties.userProperties")[0].GetString());
        Assert.Equal("is not valid base64.", badBase64.GetProperty("payload")[0].GetString());
        Assert.Equal(["properties.correlationData", "properties.responseTopic", "properties.userProperties"], Fields(badProperties));
        Assert.Equal("every item needs a name and a value.", badProperties.GetProperty("properties.userProperties")[0].GetString());
    }

    [Fact]
    public async Task A_broker_without_retained_messages_or_with_small_packets_refuses_what_it_cannot_take()
    {
        var admin = await host.AdminAsync();

        var retain = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "t", payload = "x", retain = true, broker = "small" }));
        var large = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "t", payload = new string('x', 65), broker = "small" }));
        var kept = await ErrorsAsync(await admin.PutAsJsonAsync("/api/v1/retained/t?broker=small", new { payload = "x" }));

        Assert.StartsWith("is not available on this broker", retain.GetProperty("retain")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal("is larger than this broker's maximum packet size (64 bytes).", large.GetProperty("payload")[0].GetString());
        Assert.Equal("this broker keeps no retained messages (Mqtt:RetainAvailable is false).", kept.GetProperty("topic")[0].GetString());
        var published = await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "t", payload = new string('x', 20), broker = "small" });
        Assert.Equal(HttpStatusCode.OK, published.StatusCode);
    }

    [Fact]
    public async Task A_retained_message_shows_only_the_properties_it_was_stored_with()
    {
        var admin = await host.AdminAsync();

        var set = await admin.PutAsJsonAsync("/api/v1/retained/validation/typed", new { payload = "21.5", properties = new { contentType = "text/plain" } });
        var shown = await admin.GetFromJsonAsync<JsonElement>("/api/v1/retained/validation/typed");

        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var properties = shown.GetProperty("properties");
        Assert.Equal("text/plain", properties.GetProperty("contentType").GetString());
        Assert.Equal(JsonValueKind.Null, properties.GetProperty("correlationData").ValueKind);
        Assert.Equal(JsonValueKind.Null, properties.GetProperty("payloadIsUtf8").ValueKind);
    }

    [Fact]
    public async Task A_retained_message_needs_a_payload_and_an_existing_topic_to_delete()
    {
        var admin = await host.AdminAsync();

        var empty = await ErrorsAsync(await admin.PutAsJsonAsync("/api/v1/retained/validation/empty", new { payload = "" }));
        var missing = await admin.DeleteAsync("/api/v1/retained/validation/never-set");

        Assert.StartsWith("must not be empty", empty.GetProperty("payload")[0].GetString(), StringComparison.Ordinal);
        await ProblemAssert.IsProblemAsync(missing, HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/retained/validation/empty"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Accounts_and_api_keys_name_each_bad_field()
    {
        var admin = await host.AdminAsync();

        var keyWithout = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/api-keys", new { name = " " }));
        var keyTooLong = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/api-keys", new { name = new string('k', 257), role = "owner" }));
        var listByRole = await ErrorsAsync(await admin.GetAsync("/api/v1/accounts?role=owner"));
        var accountRole = await ErrorsAsync(await admin.PostAsJsonAsync("/api/v1/accounts", new { userName = "no-role", password = "long-enough-password" }));
        var created = await admin.PostAsJsonAsync("/api/v1/accounts", new { userName = "twice", password = "long-enough-password", role = "viewer" });
        var again = await admin.PostAsJsonAsync("/api/v1/accounts", new { userName = "twice", password = "long-enough-password", role = "admin" });

        Assert.Equal(["name", "role"], Fields(keyWithout));
        Assert.Equal(["name", "role"], Fields(keyTooLong));
        Assert.Equal("must be admin or viewer.", listByRole.GetProperty("role")[0].GetString());
        Assert.Equal(["role"], Fields(accountRole));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        await ProblemAssert.IsProblemAsync(again, HttpStatusCode.Conflict);
        var viewers = await admin.GetFromJsonAsync<JsonElement>("/api/v1/accounts?role=viewer");
        Assert.Contains(viewers.GetProperty("items").EnumerateArray(), static a => a.GetProperty("userName").GetString() == "twice");
    }

    [Fact]
    public async Task Values_of_the_wrong_kind_are_refused_by_their_path_with_what_they_must_be()
    {
        var admin = await host.AdminAsync();

        var noBody = await ErrorsAsync(await admin.PostAsync("/api/v1/publish", new StringContent("", Encoding.UTF8, "application/json")));
        var properties = await PublishErrorsAsync(admin, """{"topic":"t","properties":"x"}""");
        var userProperties = await PublishErrorsAsync(admin, """{"topic":"t","properties":{"userProperties":"x"}}""");
        var itemName = await PublishErrorsAsync(admin, """{"topic":"t","properties":{"userProperties":[{"name":5,"value":"v"}]}}""");
        var expiry = await PublishErrorsAsync(admin, """{"topic":"t","properties":{"messageExpiryInterval":-1}}""");
        var flag = await PublishErrorsAsync(admin, """{"topic":"t","retain":"yes"}""");
        var quoted = await PublishErrorsAsync(admin, """{"topic":"t","a.b":1}""");

        Assert.Equal("is required (a JSON object).", noBody.GetProperty("body")[0].GetString());
        Assert.Equal("must be an object.", properties.GetProperty("properties")[0].GetString());
        Assert.Equal("must be an array.", userProperties.GetProperty("properties.userProperties")[0].GetString());
        Assert.Equal("must be a string.", itemName.GetProperty("properties.userProperties[0].name")[0].GetString());
        Assert.Equal("must be a whole number.", expiry.GetProperty("properties.messageExpiryInterval")[0].GetString());
        Assert.Equal("must be true or false.", flag.GetProperty("retain")[0].GetString());
        Assert.StartsWith("is not a field of this request", quoted.GetProperty("['a.b']")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_that_is_not_sent_as_json_is_refused_as_an_unsupported_media_type()
    {
        var admin = await host.AdminAsync();

        var response = await admin.PostAsync("/api/v1/publish", new StringContent("topic=t", Encoding.UTF8, "text/plain"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal("Unsupported Media Type", problem.GetProperty("title").GetString());
        Assert.False(problem.TryGetProperty("errors", out _));
    }

    private static async Task<JsonElement> PublishErrorsAsync(HttpClient admin, string json) =>
        await ErrorsAsync(await admin.PostAsync("/api/v1/publish", new StringContent(json, Encoding.UTF8, "application/json")));

    private static string[] Fields(JsonElement errors) => [.. errors.EnumerateObject().Select(static p => p.Name).Order(StringComparer.Ordinal)];

    /// <summary>A 400 problem; returns its errors by field.</summary>
    private static async Task<JsonElement> ErrorsAsync(HttpResponseMessage response)
    {
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        return problem.GetProperty("errors");
    }
}
