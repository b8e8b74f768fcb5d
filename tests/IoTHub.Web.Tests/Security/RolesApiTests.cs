using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace IoTHub.Web.Tests.Security;

/// <summary>
/// /api/v1/roles and /api/v1/mqtt-users/{userName}/roles (issue 17 milestone 2): roles created, listed, read, renamed,
/// described and deleted; the roles a user holds read and replaced; the superuser flag of /api/v1/mqtt-users; 400 naming
/// the field, 404, 409; viewers read only; every change audited.
/// </summary>
public sealed class RolesApiTests(MqttUsersHost host) : IClassFixture<MqttUsersHost>
{
    private const string Roles = "/api/v1/roles";

    [Fact]
    public async Task A_role_is_created_listed_read_renamed_described_and_deleted()
    {
        var admin = await host.AdminAsync();
        var created = await admin.PostAsJsonAsync(Roles, new { name = "crud-sensors", description = "field units" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"{Roles}/crud-sensors", created.Headers.Location?.OriginalString);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("crud-sensors", "field units"), (body.GetProperty("name").GetString(), body.GetProperty("description").GetString()));
        Assert.Equal(body.GetProperty("createdAt").GetDateTimeOffset(), body.GetProperty("changedAt").GetDateTimeOffset());
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync(Roles, new { name = "crud-operators" })).StatusCode);

        var listed = await admin.GetFromJsonAsync<JsonElement>($"{Roles}?search=CRUD-");
        Assert.Equal(["crud-operators", "crud-sensors"], listed.GetProperty("items").EnumerateArray().Select(static r => r.GetProperty("name").GetString()));
        Assert.Equal(JsonValueKind.Null, (await admin.GetFromJsonAsync<JsonElement>($"{Roles}/crud-operators")).GetProperty("description").ValueKind);

        // A rename takes the role's members and rules along.
        await CreateUserAsync(admin, "crud-member");
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/v1/mqtt-users/crud-member/roles", new { roles = new[] { "crud-sensors" } })).StatusCode);
        var rule = await admin.PostAsJsonAsync("/api/v1/acl-rules",
            new { scope = "role", role = "crud-sensors", permission = "allow", action = "publish", topicFilter = "devices/%u/#" });
        Assert.Equal(HttpStatusCode.Created, rule.StatusCode);
        var ruleId = (await rule.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();

        var renamed = await admin.PutAsJsonAsync($"{Roles}/crud-sensors", new { name = "crud-devices" });
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        var after = await renamed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("crud-devices", "field units"), (after.GetProperty("name").GetString(), after.GetProperty("description").GetString()));
        Assert.True(after.GetProperty("changedAt").GetDateTimeOffset() >= after.GetProperty("createdAt").GetDateTimeOffset());
        await ProblemAssert.IsProblemAsync(await admin.GetAsync($"{Roles}/crud-sensors"), HttpStatusCode.NotFound);
        Assert.Equal(["crud-devices"], await UserRolesAsync(admin, "crud-member"));
        Assert.Equal("crud-devices", (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/acl-rules/{ruleId}")).GetProperty("role").GetString());

        var described = await admin.PutAsJsonAsync($"{Roles}/crud-devices", new { description = "" });
        Assert.Equal(JsonValueKind.Null, (await described.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("description").ValueKind);

        // Deleting it takes its rules and memberships along.
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{Roles}/crud-devices")).StatusCode);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync($"{Roles}/crud-devices"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.DeleteAsync($"{Roles}/crud-devices"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.PutAsJsonAsync($"{Roles}/crud-devices", new { description = "x" }), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync($"/api/v1/acl-rules/{ruleId}"), HttpStatusCode.NotFound);
        Assert.Equal([], await UserRolesAsync(admin, "crud-member"));

        var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?actor=admin&pageSize=500");
        var actions = log.GetProperty("items").EnumerateArray().Select(static e => $"{e.GetProperty("action").GetString()} {e.GetProperty("status").GetInt32()}").ToList();
        Assert.Contains($"POST {Roles} 201", actions);
        Assert.Contains($"PUT {Roles}/crud-sensors 200", actions);
        Assert.Contains($"DELETE {Roles}/crud-devices 204", actions);
        Assert.Contains("PUT /api/v1/mqtt-users/crud-member/roles 200", actions);
    }

    [Fact]
    public async Task Bad_role_requests_name_their_field_and_a_taken_name_is_a_conflict()
    {
        var admin = await host.AdminAsync();
        var invalid = await ProblemAssert.IsProblemAsync(
            await admin.PostAsJsonAsync(Roles, new { name = "a\u0001b", description = new string('d', 1025) }), HttpStatusCode.BadRequest);
        Assert.True(invalid.GetProperty("errors").TryGetProperty("name", out _));
        Assert.True(invalid.GetProperty("errors").TryGetProperty("description", out _));
        Assert.True((await ProblemAssert.IsProblemAsync(await admin.PostAsJsonAsync(Roles, new { }), HttpStatusCode.BadRequest))
            .GetProperty("errors").TryGetProperty("name", out _));

        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync(Roles, new { name = "bad-first" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync(Roles, new { name = "bad-second" })).StatusCode);
        await ProblemAssert.IsProblemAsync(await admin.PostAsJsonAsync(Roles, new { name = "bad-first" }), HttpStatusCode.Conflict);
        await ProblemAssert.IsProblemAsync(await admin.PutAsJsonAsync($"{Roles}/bad-second", new { name = "bad-first" }), HttpStatusCode.Conflict);
        Assert.True((await ProblemAssert.IsProblemAsync(await admin.PutAsJsonAsync($"{Roles}/bad-second", new { }), HttpStatusCode.BadRequest))
            .GetProperty("errors").TryGetProperty("body", out _));
        Assert.True((await ProblemAssert.IsProblemAsync(await admin.PutAsJsonAsync($"{Roles}/bad-second", new { name = "" }), HttpStatusCode.BadRequest))
            .GetProperty("errors").TryGetProperty("name", out _));
        await ProblemAssert.IsProblemAsync(await admin.GetAsync($"{Roles}?page=0"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_users_roles_are_read_and_replaced_whole_and_unknown_users_and_roles_are_not_found()
    {
        var admin = await host.AdminAsync();
        await CreateUserAsync(admin, "held-user");
        foreach (var name in new[] { "held-b", "held-a" })
        {
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync(Roles, new { name })).StatusCode);
        }

        Assert.Equal([], await UserRolesAsync(admin, "held-user"));
        var set = await admin.PutAsJsonAsync("/api/v1/mqtt-users/held-user/roles", new { roles = new[] { "held-b", "held-a", "held-b" } });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var body = await set.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("held-user", body.GetProperty("userName").GetString());
        Assert.Equal(["held-a", "held-b"], body.GetProperty("roles").EnumerateArray().Select(static r => r.GetString()));
        Assert.Equal(["held-a", "held-b"], await UserRolesAsync(admin, "held-user"));

        // All or nothing: one unknown role leaves the roles as they were, and the answer names it.
        var unknown = await ProblemAssert.IsProblemAsync(
            await admin.PutAsJsonAsync("/api/v1/mqtt-users/held-user/roles", new { roles = new[] { "held-a", "held-ghost" } }), HttpStatusCode.NotFound);
        Assert.Contains("'held-ghost'", unknown.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(["held-a", "held-b"], await UserRolesAsync(admin, "held-user"));

        await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/mqtt-users/held-nobody/roles"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.PutAsJsonAsync("/api/v1/mqtt-users/held-nobody/roles", new { roles = Array.Empty<string>() }),
            HttpStatusCode.NotFound);
        Assert.True((await ProblemAssert.IsProblemAsync(await admin.PutAsJsonAsync("/api/v1/mqtt-users/held-user/roles", new { }), HttpStatusCode.BadRequest))
            .GetProperty("errors").TryGetProperty("roles", out _));
        Assert.True((await ProblemAssert.IsProblemAsync(
                await admin.PutAsJsonAsync("/api/v1/mqtt-users/held-user/roles", new { roles = new[] { "held-a", null } }), HttpStatusCode.BadRequest))
            .GetProperty("errors").TryGetProperty("roles", out _));

        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/v1/mqtt-users/held-user/roles", new { roles = Array.Empty<string>() })).StatusCode);
        Assert.Equal([], await UserRolesAsync(admin, "held-user"));
    }

    [Fact]
    public async Task The_superuser_flag_is_set_at_creation_and_changed_through_the_users_api()
    {
        var admin = await host.AdminAsync();
        var created = await admin.PostAsJsonAsync("/api/v1/mqtt-users", new { userName = "super-root", password = "root-password", superuser = true });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.True((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("superuser").GetBoolean());
        await CreateUserAsync(admin, "super-plain");
        Assert.False((await admin.GetFromJsonAsync<JsonElement>("/api/v1/mqtt-users/super-plain")).GetProperty("superuser").GetBoolean());

        var changed = await admin.PutAsJsonAsync("/api/v1/mqtt-users/super-root", new { superuser = false });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.False((await changed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("superuser").GetBoolean());
        Assert.False((await admin.GetFromJsonAsync<JsonElement>("/api/v1/mqtt-users/super-root")).GetProperty("superuser").GetBoolean());
    }

    [Fact]
    public async Task A_viewer_reads_roles_and_memberships_but_changes_nothing()
    {
        var admin = await host.AdminAsync();
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync(Roles, new { name = "viewed-role" })).StatusCode);
        await CreateUserAsync(admin, "viewed-user");
        var viewer = await host.ViewerAsync();

        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync(Roles)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync($"{Roles}/viewed-role")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/v1/mqtt-users/viewed-user/roles")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsJsonAsync(Roles, new { name = "viewer-role" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PutAsJsonAsync($"{Roles}/viewed-role", new { name = "renamed" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync($"{Roles}/viewed-role")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden,
            (await viewer.PutAsJsonAsync("/api/v1/mqtt-users/viewed-user/roles", new { roles = new[] { "viewed-role" } })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PutAsJsonAsync("/api/v1/mqtt-users/viewed-user", new { superuser = true })).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"{Roles}/viewed-role")).StatusCode);
        Assert.Equal([], await UserRolesAsync(admin, "viewed-user"));
        Assert.False((await admin.GetFromJsonAsync<JsonElement>("/api/v1/mqtt-users/viewed-user")).GetProperty("superuser").GetBoolean());
    }

    internal static async Task CreateUserAsync(HttpClient admin, string userName) =>
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/mqtt-users", new { userName, password = userName + "-password" })).StatusCode);

    private static async Task<List<string?>> UserRolesAsync(HttpClient admin, string userName) =>
        [.. (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/mqtt-users/{userName}/roles")).GetProperty("roles").EnumerateArray().Select(static r => r.GetString())];
}
