using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace IoTHub.Web.Tests;

/// <summary>API keys for scripts, and the audit log of changes.</summary>
public sealed class ApiKeyAndAuditTests(AdminApiHost host) : IClassFixture<AdminApiHost>
{
    [Fact]
    public async Task An_api_key_works_with_its_role_until_revoked_and_is_stored_hashed()
    {
        var admin = await host.AdminAsync();
        var created = await admin.PostAsJsonAsync("/api/v1/api-keys", new { name = "monitoring", role = "viewer" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var key = body.GetProperty("key").GetString()!;
        var id = body.GetProperty("apiKey").GetProperty("id").GetInt32();
        using var script = new HttpClient { BaseAddress = host.Client.BaseAddress };
        script.DefaultRequestHeaders.Add("X-Api-Key", key);

        Assert.Equal(HttpStatusCode.OK, (await script.GetAsync("/api/v1/statistics")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await script.PostAsJsonAsync("/api/v1/publish", new { topic = "a", payload = "b" })).StatusCode);
        var listed = await admin.GetStringAsync("/api/v1/api-keys");
        Assert.Contains("monitoring", listed, StringComparison.Ordinal);
        Assert.DoesNotContain(key, listed, StringComparison.Ordinal);
        var database = System.Text.Encoding.UTF8.GetString(await File.ReadAllBytesAsync(Path.Combine(host.DataDirectory, "iothub.db")));
        Assert.DoesNotContain(key, database, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/api-keys/{id}")).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await script.GetAsync("/api/v1/statistics")).StatusCode);

        // The key's refused publish is audited as the key's, from the source api-key; the admin's changes from the source api.
        var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?action=/api/v1/publish&actor=apikey:monitoring");
        var refused = Assert.Single(log.GetProperty("items").EnumerateArray());
        Assert.Equal((403, "api-key"), (refused.GetProperty("status").GetInt32(), refused.GetProperty("source").GetString()));
        var revoked = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/audit?action=DELETE /api/v1/api-keys/{id}");
        Assert.Equal("api", Assert.Single(revoked.GetProperty("items").EnumerateArray()).GetProperty("source").GetString());
    }

    [Fact]
    public async Task A_wrong_api_key_is_401()
    {
        using var script = new HttpClient { BaseAddress = host.Client.BaseAddress };
        script.DefaultRequestHeaders.Add("X-Api-Key", "iothub_not-a-key");

        Assert.Equal(HttpStatusCode.Unauthorized, (await script.GetAsync("/api/v1/statistics")).StatusCode);
    }

    [Fact]
    public async Task Changes_are_audited_with_who_what_and_from_where_but_reads_are_not()
    {
        var admin = await host.AdminAsync();
        await admin.GetAsync("/api/v1/clients?clientId=audit-read");
        var publish = await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "audit/topic", payload = "x" });
        Assert.Equal(HttpStatusCode.OK, publish.StatusCode);
        await admin.PostAsync("/api/v1/clients/audit-nobody/disconnect", null);

        var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?actor=admin&pageSize=500");
        var entries = log.GetProperty("items").EnumerateArray().ToList();
        var published = Assert.Single(entries, static e => e.GetProperty("action").GetString() == "POST /api/v1/publish");
        Assert.Equal(200, published.GetProperty("status").GetInt32());
        Assert.Equal("127.0.0.1", published.GetProperty("remoteAddress").GetString());
        Assert.True(published.GetProperty("at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        var refused = Assert.Single(entries, static e => e.GetProperty("action").GetString() == "POST /api/v1/clients/audit-nobody/disconnect");
        Assert.Equal(404, refused.GetProperty("status").GetInt32());
        Assert.DoesNotContain(entries, static e => e.GetProperty("action").GetString()!.Contains("audit-read", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, static e => e.GetProperty("action").GetString()!.Contains("/auth/login", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_viewer_cannot_read_the_audit_log_or_manage_keys()
    {
        var viewer = await host.ViewerAsync();

        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync("/api/v1/audit")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync("/api/v1/api-keys")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsJsonAsync("/api/v1/api-keys", new { name = "x", role = "admin" })).StatusCode);
    }

    [Fact]
    public async Task Failed_logins_refusals_and_requests_that_cannot_be_bound_are_audited()
    {
        var admin = await host.AdminAsync();
        var viewer = await host.ViewerAsync();

        Assert.Equal(HttpStatusCode.Unauthorized,
            (await host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "audited-intruder", password = "guessed-password" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.GetAsync("/api/v1/audit?kind=admin")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync("/api/v1/retained/audited/viewer")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync("/api/v1/publish?broker=audited", new { topic = "t", retained = true })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PutAsJsonAsync("/api/v1/retained/$SYS/audited", new { payload = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client.DeleteAsync("/api/v1/retained/audited/anonymous")).StatusCode);

        var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?pageSize=500");
        var entries = log.GetProperty("items").EnumerateArray()
            .Select(static e => (e.GetProperty("actor").GetString(), e.GetProperty("action").GetString(), e.GetProperty("status").GetInt32())).ToList();
        Assert.Contains(("audited-intruder", "POST /api/v1/auth/login", 401), entries);
        Assert.Equal("api", log.GetProperty("items").EnumerateArray().First(static e => e.GetProperty("actor").GetString() == "audited-intruder")
            .GetProperty("source").GetString());
        Assert.Contains((AdminApiHost.ViewerName, "GET /api/v1/audit?kind=admin", 403), entries);
        Assert.Contains((AdminApiHost.ViewerName, "DELETE /api/v1/retained/audited/viewer", 403), entries);
        Assert.Contains(("admin", "POST /api/v1/publish?broker=audited", 400), entries);
        Assert.Contains(("admin", "PUT /api/v1/retained/$SYS/audited", 400), entries);
        Assert.Contains(("(unknown)", "DELETE /api/v1/retained/audited/anonymous", 401), entries);
        var byAction = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?action=retained/audited/");
        Assert.Equal(["DELETE /api/v1/retained/audited/anonymous", "DELETE /api/v1/retained/audited/viewer"],
            byAction.GetProperty("items").EnumerateArray().Select(static e => e.GetProperty("action").GetString()));
        var accessByAction = await admin.GetAsync("/api/v1/audit?kind=access&action=publish");
        Assert.Equal(HttpStatusCode.BadRequest, accessByAction.StatusCode);
        Assert.Contains("\"action\"", await accessByAction.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // A successful login is not a change, and reads that were allowed are not written.
        Assert.DoesNotContain(entries, static e => e.Item2 == "POST /api/v1/auth/login" && e.Item3 == 200);
        Assert.DoesNotContain(entries, static e => e.Item2!.StartsWith("GET ", StringComparison.Ordinal) && e.Item3 != 403);
    }
}
