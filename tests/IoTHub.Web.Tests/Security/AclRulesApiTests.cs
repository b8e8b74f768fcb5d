using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace IoTHub.Web.Tests.Security;

/// <summary>
/// /api/v1/acl-rules (issue 17 milestone 2): rules for a user, a role and everyone created, listed with filters, read,
/// replaced and deleted; every field checked (400 naming it), unknown users, roles and rules 404; viewers read only;
/// every change audited.
/// </summary>
public sealed class AclRulesApiTests(MqttUsersHost host) : IClassFixture<MqttUsersHost>
{
    private const string Rules = "/api/v1/acl-rules";

    [Fact]
    public async Task Rules_for_a_user_a_role_and_everyone_are_created_listed_read_replaced_and_deleted()
    {
        var admin = await host.AdminAsync();
        await RolesApiTests.CreateUserAsync(admin, "rules-alice");
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/roles", new { name = "rules-sensors" })).StatusCode);

        var forUser = await CreateAsync(admin, new { scope = "user", userName = "rules-alice", permission = "allow", action = "both", topicFilter = "alice/#" });
        var forRole = await CreateAsync(admin, new { scope = "role", role = "rules-sensors", permission = "allow", action = "publish", topicFilter = "devices/%u/telemetry" });
        var forEveryone = await CreateAsync(admin, new { scope = "everyone", permission = "deny", action = "subscribe", topicFilter = "secret/#", pattern = false });
        var literal = await CreateAsync(admin, new { scope = "everyone", permission = "allow", action = "subscribe", topicFilter = "literally/%u", pattern = false });

        Assert.Equal(("user", "rules-alice", JsonValueKind.Null, "allow", "both", "alice/#", false),
            (forUser.GetProperty("scope").GetString(), forUser.GetProperty("userName").GetString(), forUser.GetProperty("role").ValueKind,
                forUser.GetProperty("permission").GetString(), forUser.GetProperty("action").GetString(), forUser.GetProperty("topicFilter").GetString(),
                forUser.GetProperty("pattern").GetBoolean()));
        Assert.True(forRole.GetProperty("pattern").GetBoolean()); // not given: the filter holds %u
        Assert.Equal("rules-sensors", forRole.GetProperty("role").GetString());
        Assert.Equal(("everyone", "deny", "subscribe"), (forEveryone.GetProperty("scope").GetString(), forEveryone.GetProperty("permission").GetString(),
            forEveryone.GetProperty("action").GetString()));
        Assert.False(literal.GetProperty("pattern").GetBoolean());

        // Listed by id; other tests of the class may have added rules of their own.
        int Id(JsonElement rule) => rule.GetProperty("id").GetInt32();
        int[] mine = [Id(forUser), Id(forRole), Id(forEveryone), Id(literal)];
        async Task<IEnumerable<int>> MineAsync(string query) => (await IdsAsync(admin, $"{Rules}?pageSize=500{query}")).Where(mine.Contains);
        Assert.Equal(mine, await MineAsync(""));
        Assert.Equal([Id(forUser)], await MineAsync("&userName=rules-alice"));
        Assert.Equal([Id(forRole)], await MineAsync("&role=rules-sensors"));
        Assert.Equal([Id(forEveryone), Id(literal)], await MineAsync("&scope=everyone"));
        Assert.Equal([], await MineAsync("&scope=role&userName=rules-alice"));
        Assert.Equal(forRole.ToString(), (await admin.GetFromJsonAsync<JsonElement>($"{Rules}/{Id(forRole)}")).ToString());

        // PUT replaces the whole rule, its scope included.
        var replaced = await admin.PutAsJsonAsync($"{Rules}/{Id(forUser)}",
            new { scope = "role", role = "rules-sensors", permission = "deny", action = "subscribe", topicFilter = "alice/private/+" });
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        var after = await admin.GetFromJsonAsync<JsonElement>($"{Rules}/{Id(forUser)}");
        Assert.Equal(("role", JsonValueKind.Null, "rules-sensors", "deny", "alice/private/+"),
            (after.GetProperty("scope").GetString(), after.GetProperty("userName").ValueKind, after.GetProperty("role").GetString(),
                after.GetProperty("permission").GetString(), after.GetProperty("topicFilter").GetString()));

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{Rules}/{Id(forUser)}")).StatusCode);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync($"{Rules}/{Id(forUser)}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.DeleteAsync($"{Rules}/{Id(forUser)}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.PutAsJsonAsync($"{Rules}/{Id(forUser)}",
            new { scope = "everyone", permission = "allow", action = "both", topicFilter = "x" }), HttpStatusCode.NotFound);

        // Deleting the user takes its rules along.
        var again = await CreateAsync(admin, new { scope = "user", userName = "rules-alice", permission = "allow", action = "both", topicFilter = "alice/#" });
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/mqtt-users/rules-alice")).StatusCode);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync($"{Rules}/{Id(again)}"), HttpStatusCode.NotFound);

        var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?actor=admin&pageSize=500");
        var actions = log.GetProperty("items").EnumerateArray().Select(static e => $"{e.GetProperty("action").GetString()} {e.GetProperty("status").GetInt32()}").ToList();
        Assert.Contains($"POST {Rules} 201", actions);
        Assert.Contains($"PUT {Rules}/{Id(forUser)} 200", actions);
        Assert.Contains($"DELETE {Rules}/{Id(forUser)} 204", actions);
    }

    [Fact]
    public async Task Each_bad_field_is_named_and_unknown_users_and_roles_are_not_found()
    {
        var admin = await host.AdminAsync();
        var nothing = await ErrorsAsync(admin, new { });
        Assert.Equal(["action", "permission", "scope", "topicFilter"], nothing.EnumerateObject().Select(static e => e.Name).Order(StringComparer.Ordinal));

        var wrong = await ErrorsAsync(admin, new { scope = "group", permission = "maybe", action = "read", topicFilter = "a/#/b" });
        Assert.Equal(["action", "permission", "scope", "topicFilter"], wrong.EnumerateObject().Select(static e => e.Name).Order(StringComparer.Ordinal));

        // The owner must match the scope: a user rule needs a user name and no role, an everyone rule neither.
        Assert.Equal(["role", "userName"], (await ErrorsAsync(admin,
                new { scope = "user", role = "r", permission = "allow", action = "both", topicFilter = "t" }))
            .EnumerateObject().Select(static e => e.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["role", "userName"], (await ErrorsAsync(admin,
                new { scope = "everyone", userName = "u", role = "r", permission = "allow", action = "both", topicFilter = "t" }))
            .EnumerateObject().Select(static e => e.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["role"], (await ErrorsAsync(admin, new { scope = "role", permission = "allow", action = "both", topicFilter = "t" }))
            .EnumerateObject().Select(static e => e.Name));
        Assert.Equal(["topicFilter"], (await ErrorsAsync(admin, new { scope = "everyone", permission = "allow", action = "both", topicFilter = "$share/g/t" }))
            .EnumerateObject().Select(static e => e.Name));

        await ProblemAssert.IsProblemAsync(await admin.GetAsync($"{Rules}?scope=group"), HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync($"{Rules}?pageSize=501"), HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(await admin.PutAsJsonAsync($"{Rules}/1", new { scope = "user" }), HttpStatusCode.BadRequest);

        var noUser = await ProblemAssert.IsProblemAsync(await admin.PostAsJsonAsync(Rules,
            new { scope = "user", userName = "bad-nobody", permission = "allow", action = "both", topicFilter = "t" }), HttpStatusCode.NotFound);
        Assert.Contains("'bad-nobody'", noUser.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var noRole = await ProblemAssert.IsProblemAsync(await admin.PostAsJsonAsync(Rules,
            new { scope = "role", role = "bad-ghosts", permission = "allow", action = "both", topicFilter = "t" }), HttpStatusCode.NotFound);
        Assert.Contains("'bad-ghosts'", noRole.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync($"{Rules}/999999"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_viewer_reads_rules_but_changes_nothing()
    {
        var admin = await host.AdminAsync();
        var rule = await CreateAsync(admin, new { scope = "everyone", permission = "allow", action = "both", topicFilter = "viewed/#" });
        var id = rule.GetProperty("id").GetInt32();
        var viewer = await host.ViewerAsync();

        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(Rules)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync($"{Rules}/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsJsonAsync(Rules, new { scope = "everyone", permission = "allow", action = "both", topicFilter = "#" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PutAsJsonAsync($"{Rules}/{id}", new { scope = "everyone", permission = "deny", action = "both", topicFilter = "#" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync($"{Rules}/{id}")).StatusCode);
        Assert.Equal(rule.ToString(), (await admin.GetFromJsonAsync<JsonElement>($"{Rules}/{id}")).ToString());
    }

    private static async Task<JsonElement> CreateAsync(HttpClient admin, object rule)
    {
        var response = await admin.PostAsJsonAsync(Rules, rule);
        Assert.True(HttpStatusCode.Created == response.StatusCode, await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal($"{Rules}/{body.GetProperty("id").GetInt32()}", response.Headers.Location?.OriginalString);
        return body;
    }

    private static async Task<JsonElement> ErrorsAsync(HttpClient admin, object rule) =>
        (await ProblemAssert.IsProblemAsync(await admin.PostAsJsonAsync(Rules, rule), HttpStatusCode.BadRequest)).GetProperty("errors");

    private static async Task<List<int>> IdsAsync(HttpClient admin, string path) =>
        [.. (await admin.GetFromJsonAsync<JsonElement>(path)).GetProperty("items").EnumerateArray().Select(static r => r.GetProperty("id").GetInt32())];
}
