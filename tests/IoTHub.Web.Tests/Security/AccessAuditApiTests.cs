using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;
using IoTHub.Web.Configuration;

namespace IoTHub.Web.Tests.Security;

/// <summary>
/// A host with an acl_file (<see cref="Rules"/>) and a known admin: anonymous clients may read and write <c>open/#</c>, every
/// user its own <c>devices/%u/#</c>; <c>open/secret/#</c> is denied to all. Clients send any user name (no authenticator).
/// </summary>
public class AccessAuditHost : AdminApiHost
{
    public const string Rules = """
        topic readwrite open/#
        pattern readwrite devices/%u/#
        pattern deny open/secret/#
        """;

    private readonly string _folder;

    public AccessAuditHost()
        : this(new Dictionary<string, string>())
    {
    }

    protected AccessAuditHost(IReadOnlyDictionary<string, string> settings)
        : this(Directory.CreateTempSubdirectory("iothub-web-audit-").FullName, settings)
    {
    }

    private AccessAuditHost(string folder, IReadOnlyDictionary<string, string> settings)
        : base(new Dictionary<string, string>(settings) { ["Security:AclFile"] = WriteAclFile(folder) })
    {
        _folder = folder;
        AclFile = Path.Combine(folder, "acl");
    }

    public string AclFile { get; }

    /// <summary>The access audit's entries that match <paramref name="query"/> (after <c>kind=access&amp;pageSize=500&amp;</c>), oldest first.</summary>
    public async Task<List<JsonElement>> AccessEntriesAsync(string query)
    {
        var admin = await AdminAsync();
        var page = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?kind=access&pageSize=500&" + query);
        return [.. page.GetProperty("items").EnumerateArray().Reverse()];
    }

    /// <summary>Polls until the access audit has <paramref name="count"/> entries that match <paramref name="query"/>; returns them, oldest first.</summary>
    public async Task<List<JsonElement>> WaitForAccessEntriesAsync(string query, int count)
    {
        List<JsonElement> entries = [];
        await Poll.UntilAsync(async () => (entries = await AccessEntriesAsync(query)).Count >= count, TimeSpan.FromSeconds(20),
            $"the access audit has no {count} entries for {query}");
        return entries;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Directory.Delete(_folder, recursive: true);
    }

    private static string WriteAclFile(string folder)
    {
        var path = Path.Combine(folder, "acl");
        File.WriteAllText(path, Rules);
        return path;
    }
}

/// <summary>GET /api/v1/audit?kind=access (issue 17): its criteria, paging, and a 400 naming each bad parameter.</summary>
public sealed class AccessAuditApiTests(AccessAuditHost host) : IClassFixture<AccessAuditHost>
{
    [Fact]
    public async Task Each_criterion_finds_the_decisions_it_names()
    {
        var start = DateTimeOffset.UtcNow.AddMilliseconds(-1);
        await using (var client = await ConnectAsync("api-dev-1", "dev-1"))
        {
            Assert.Equal([ReasonCode.GrantedQoS1], (await client.SubscribeAsync("devices/dev-1/#", QualityOfService.AtLeastOnce)).ReasonCodes);
            Assert.Equal([ReasonCode.NotAuthorized], (await client.SubscribeAsync("devices/dev-2/#", QualityOfService.AtLeastOnce)).ReasonCodes);
            await RefusedPublishAsync(client, "open/secret/plans");
        }

        await using (var other = await ConnectAsync("api-dev-2", "dev-2"))
        {
            await RefusedPublishAsync(other, "devices/dev-1/cmd");
        }

        var all = await host.WaitForAccessEntriesAsync("clientId=api-dev-2", 1);
        var dev1 = await host.AccessEntriesAsync("clientId=api-dev-1");
        Assert.Equal([("subscribe", "devices/dev-2/#", "default"), ("publish", "open/secret/plans", host.AclFile + ":3")],
            dev1.Select(static e => (e.GetProperty("action").GetString(), e.GetProperty("topic").GetString(), e.GetProperty("rule").GetString())));
        Assert.All(dev1, static e => Assert.Equal(("dev-1", "deny", "access"), (e.GetProperty("userName").GetString(), e.GetProperty("result").GetString(),
            e.GetProperty("kind").GetString())));
        Assert.Equal("devices/dev-1/cmd", Assert.Single(all).GetProperty("topic").GetString());

        Assert.Equal(["api-dev-1", "api-dev-1"], (await host.AccessEntriesAsync("user=dev-1")).Select(ClientId));
        Assert.Equal(["api-dev-1", "api-dev-2"], (await host.AccessEntriesAsync("topic=dev-&from=" + Time(start)))
            .Select(ClientId).Order());
        Assert.Empty(await host.AccessEntriesAsync("clientId=api-dev-1&result=allow")); // allowed ones are not recorded by default
        Assert.Equal(2, (await host.AccessEntriesAsync("clientId=api-dev-1&result=deny")).Count);
        Assert.Empty(await host.AccessEntriesAsync("clientId=api-dev-1&to=" + Time(start)));
        Assert.Equal(2, (await host.AccessEntriesAsync("clientId=api-dev-1&from=" + Time(start) + "&to=" + Time(DateTimeOffset.UtcNow.AddMinutes(1)))).Count);

        // Paging as in every list: page 2 of 1 is the older one.
        var admin = await host.AdminAsync();
        var second = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?kind=access&clientId=api-dev-1&pageSize=1&page=2");
        Assert.Equal((2, 2, 2), (second.GetProperty("totalCount").GetInt32(), second.GetProperty("totalPages").GetInt32(), second.GetProperty("page").GetInt32()));
        Assert.Equal("subscribe", Assert.Single(second.GetProperty("items").EnumerateArray()).GetProperty("action").GetString());
    }

    [Theory]
    [InlineData("kind=acess", "kind")]
    [InlineData("kind=access&result=refused", "result")]
    [InlineData("kind=access&actor=admin", "actor")]
    [InlineData("clientId=c1", "clientId")] // no kind: the admin entries, which have no client ids
    [InlineData("kind=admin&user=alice", "user")]
    [InlineData("kind=access&from=2026-06-01T00:00:00Z&to=2026-05-01T00:00:00Z", "to")]
    [InlineData("kind=access&pageSize=501", "pageSize")]
    public async Task A_bad_criterion_answers_400_naming_it(string query, string parameter)
    {
        var admin = await host.AdminAsync();
        var body = await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/audit?" + query), HttpStatusCode.BadRequest);
        Assert.Equal([parameter], body.GetProperty("errors").EnumerateObject().Select(static e => e.Name));
    }

    [Fact]
    public async Task A_time_that_does_not_parse_answers_400_naming_the_parameter()
    {
        var admin = await host.AdminAsync();
        var body = await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/audit?kind=access&from=yesterday"), HttpStatusCode.BadRequest);
        Assert.Contains("from", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_kind_the_list_is_the_admin_log_as_before_and_viewers_read_neither()
    {
        var admin = await host.AdminAsync();
        await admin.DeleteAsync("/api/v1/sessions/audit-api-nobody");
        var page = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?actor=admin&pageSize=500");
        var entry = page.GetProperty("items").EnumerateArray().First(static e => e.GetProperty("action").GetString() == "DELETE /api/v1/sessions/audit-api-nobody");
        Assert.Equal(("admin", 404), (entry.GetProperty("kind").GetString(), entry.GetProperty("status").GetInt32()));

        var viewer = await host.ViewerAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync("/api/v1/audit?kind=access")).StatusCode);
    }

    private static string ClientId(JsonElement entry) => entry.GetProperty("clientId").GetString()!;

    private static string Time(DateTimeOffset at) => Uri.EscapeDataString(at.ToString("O", CultureInfo.InvariantCulture));

    private async Task<MqttTestClient> ConnectAsync(string clientId, string userName)
    {
        var client = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500);
        await client.ConnectAcceptedAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = clientId, UserName = userName });
        return client;
    }

    /// <summary>A QoS 1 PUBLISH the rules refuse: PUBACK 0x87 (5.0 §3.4.2.1).</summary>
    private static async Task RefusedPublishAsync(MqttTestClient client, string topic)
    {
        await client.PublishAsync(topic, "x", QualityOfService.AtLeastOnce);
        Assert.Equal(ReasonCode.NotAuthorized, (await client.ExpectAckAsync(PacketType.PubAck)).ReasonCode);
    }
}

/// <summary>The "Security:AccessAudit" keys, each bad value reported.</summary>
public sealed class AccessAuditSettingsTests
{
    [Fact]
    public void The_keys_are_read_and_bad_values_listed()
    {
        var defaults = SecuritySettingsTests.Read([], out var errors);
        Assert.Empty(errors);
        Assert.Equal((false, 1000), (defaults.AccessAudit.RecordAllowed, defaults.AccessAudit.MaxPerSecond));

        var set = SecuritySettingsTests.Read(new() { ["Security:AccessAudit:RecordAllowed"] = "true", ["Security:AccessAudit:MaxPerSecond"] = "0" }, out errors);
        Assert.Empty(errors);
        Assert.Equal((true, 0), (set.AccessAudit.RecordAllowed, set.AccessAudit.MaxPerSecond));

        SecuritySettingsTests.Read(new()
        {
            ["Security:AccessAudit:RecordAllowed"] = "sometimes",
            ["Security:AccessAudit:MaxPerSecond"] = "1000001",
            ["Security:AccessAudit:Rate"] = "5",
        }, out errors);
        Assert.Contains(errors, static e => e.StartsWith("Security:AccessAudit:RecordAllowed 'sometimes' is not true or false", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:AccessAudit:MaxPerSecond '1000001'", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:AccessAudit:Rate is not a known setting", StringComparison.Ordinal));
    }
}
