using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests.Security;

/// <summary>A host that refuses every client (no authenticator, anonymous clients not allowed), where 2 failed logins ban.</summary>
public sealed class BanningHost() : AdminApiHost(new Dictionary<string, string> { ["Security:AllowAnonymous"] = "false", ["Security:Bans:MaxFailures"] = "2" })
{
    /// <summary>A CONNECT from loopback as <paramref name="userName"/>; returns the CONNACK's reason code.</summary>
    public async Task<ReasonCode> ConnectAsync(string? userName)
    {
        await using var client = await MqttTestClient.OpenTcpAsync(MqttEndpoint, MqttProtocolVersion.V500);
        var connAck = await client.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = "ban-api",
            UserName = userName,
            Password = userName is null ? null : Encoding.UTF8.GetBytes("guess"),
        });
        return connAck.ReasonCode;
    }

    /// <summary>Lifts every ban in force, so that each test starts from none (all its clients come from 127.0.0.1).</summary>
    public async Task LiftAllAsync()
    {
        var admin = await AdminAsync();
        foreach (var ban in (await admin.GetFromJsonAsync<JsonElement>("/api/v1/bans")).GetProperty("items").EnumerateArray())
        {
            var response = await admin.DeleteAsync($"/api/v1/bans/{ban.GetProperty("kind").GetString()}/{Uri.EscapeDataString(ban.GetProperty("value").GetString()!)}");
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
    }
}

/// <summary>/api/v1/bans (issue 15): viewers list the bans in force, admins lift one (audited); 401 without a token, 403 for a viewer's change, 404 for no such ban.</summary>
public sealed class BansApiTests(BanningHost host) : IClassFixture<BanningHost>, IAsyncLifetime
{
    public Task InitializeAsync() => host.LiftAllAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_viewer_lists_the_bans_and_an_admin_lifts_one_which_is_audited()
    {
        Assert.Equal(ReasonCode.BadUserNameOrPassword, await host.ConnectAsync("mallory"));
        Assert.Equal(ReasonCode.BadUserNameOrPassword, await host.ConnectAsync("mallory"));
        Assert.Equal(ReasonCode.Banned, await host.ConnectAsync("someone"));

        var viewer = await host.ViewerAsync();
        var page = await viewer.GetFromJsonAsync<JsonElement>("/api/v1/bans");
        var bans = page.GetProperty("items").EnumerateArray()
            .Select(static b => (b.GetProperty("kind").GetString(), b.GetProperty("value").GetString(), b.GetProperty("failures").GetInt32())).ToList();
        Assert.Equal([("address", "127.0.0.1", 2), ("user", "mallory", 2)], bans);
        var until = page.GetProperty("items")[0].GetProperty("until").GetDateTimeOffset();
        Assert.InRange(until - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));

        var admin = await host.AdminAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/bans/address/127.0.0.1")).StatusCode);
        var left = (await viewer.GetFromJsonAsync<JsonElement>("/api/v1/bans")).GetProperty("items").EnumerateArray().Select(static b => b.GetProperty("value").GetString());
        Assert.Equal(["mallory"], left);
        Assert.Equal(ReasonCode.Banned, await host.ConnectAsync("mallory")); // the user still is
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/bans/user/mallory")).StatusCode);

        var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?actor=admin&pageSize=500");
        var lifted = Assert.Single(log.GetProperty("items").EnumerateArray(), static e => e.GetProperty("action").GetString() == "DELETE /api/v1/bans/user/mallory");
        Assert.Equal(204, lifted.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Lifting_needs_an_admin_a_known_kind_and_a_ban_in_force()
    {
        var admin = await host.AdminAsync();
        var problem = await ProblemAssert.IsProblemAsync(await admin.DeleteAsync("/api/v1/bans/user/nobody"), HttpStatusCode.NotFound);
        Assert.Equal("There is no ban of user nobody.", problem.GetProperty("detail").GetString());
        await ProblemAssert.IsProblemAsync(await admin.DeleteAsync("/api/v1/bans/address/192.0.2.1"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.DeleteAsync("/api/v1/bans/client/x"), HttpStatusCode.BadRequest);

        Assert.Equal(ReasonCode.BadUserNameOrPassword, await host.ConnectAsync("trudy"));
        Assert.Equal(ReasonCode.BadUserNameOrPassword, await host.ConnectAsync("trudy"));
        var viewer = await host.ViewerAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync("/api/v1/bans/user/trudy")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client.DeleteAsync("/api/v1/bans/user/trudy")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client.GetAsync("/api/v1/bans")).StatusCode);
        Assert.Equal(ReasonCode.Banned, await host.ConnectAsync("trudy"));
    }
}

/// <summary>Bans are counted on /metrics: started per kind, and in force (runs alone: see <see cref="MetricsRunAlone"/>).</summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class BanMetricsTests(BanningHost host) : IClassFixture<BanningHost>
{
    [Fact]
    public async Task Bans_started_and_in_force_are_counted_by_kind()
    {
        await host.LiftAllAsync();
        var before = await MetricsScrape.ReadAsync(host.Client);
        Assert.Equal(0, before["iothub_authentication_bans_active{kind=\"user\"}"]);

        Assert.Equal(ReasonCode.BadUserNameOrPassword, await host.ConnectAsync("oscar"));
        Assert.Equal(ReasonCode.BadUserNameOrPassword, await host.ConnectAsync("oscar"));

        var after = await MetricsScrape.ReadAsync(host.Client);
        foreach (var kind in new[] { "address", "user" })
        {
            Assert.Equal(1, after[$"iothub_authentication_bans_total{{kind=\"{kind}\"}}"] - before.GetValueOrDefault($"iothub_authentication_bans_total{{kind=\"{kind}\"}}"));
            Assert.Equal(1, after[$"iothub_authentication_bans_active{{kind=\"{kind}\"}}"]);
        }

        await host.LiftAllAsync();
        Assert.Equal(0, (await MetricsScrape.ReadAsync(host.Client))["iothub_authentication_bans_active{kind=\"address\"}"]);
    }
}
