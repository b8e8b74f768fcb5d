using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Broker.Security.PasswordFile;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests.Security;

/// <summary>The host with the Database authenticator, on its own SQLite file.</summary>
/// <summary>The admin API host with database users, whose new hashes get a cost other than the default (20 000 rounds).</summary>
public sealed class MqttUsersHost() : AdminApiHost(new Dictionary<string, string>
{
    ["Security:Authenticators:0:Type"] = "Database",
    ["Security:PasswordHashIterations"] = MqttUsersHost.Iterations.ToString(System.Globalization.CultureInfo.InvariantCulture),
})
{
    public const int Iterations = 20_000;

    public const string HashPrefix = "$7$20000$";
}

/// <summary>
/// /api/v1/mqtt-users (issue 15): create, list, get, change, delete and import the built-in users; 400 naming the field,
/// 404, 409; viewers read only; every change audited; no password or hash in any answer.
/// </summary>
public sealed class MqttUsersApiTests(MqttUsersHost host) : IClassFixture<MqttUsersHost>
{
    private const string Users = "/api/v1/mqtt-users";

    /// <summary>Every answer body of the test, checked for passwords, hashes and salts at the end.</summary>
    private readonly List<string> _answers = [];

    [Fact]
    public async Task A_user_is_created_listed_read_changed_and_deleted_and_nothing_secret_comes_back()
    {
        var admin = await host.AdminAsync();
        var created = await SendAsync(admin.PostAsJsonAsync(Users, new { userName = "api-alice", password = "alice-password-1", clientIdPattern = "%u-*" }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"{Users}/api-alice", created.Headers.Location?.OriginalString);
        var body = await ReadAsync(created);
        Assert.Equal("api-alice", body.GetProperty("userName").GetString());
        Assert.True(body.GetProperty("enabled").GetBoolean());
        Assert.Equal("%u-*", body.GetProperty("clientIdPattern").GetString());
        Assert.Equal(body.GetProperty("createdAt").GetDateTimeOffset(), body.GetProperty("changedAt").GetDateTimeOffset());

        Assert.Equal(HttpStatusCode.Created, (await SendAsync(admin.PostAsJsonAsync(Users, new { userName = "api-bob", password = "bob-password-1", enabled = false }))).StatusCode);
        var listed = await ReadAsync(await SendAsync(admin.GetAsync($"{Users}?search=API-")));
        Assert.Equal(["api-alice", "api-bob"], listed.GetProperty("items").EnumerateArray().Select(static u => u.GetProperty("userName").GetString()));
        var bob = await ReadAsync(await SendAsync(admin.GetAsync($"{Users}/api-bob")));
        Assert.False(bob.GetProperty("enabled").GetBoolean());
        Assert.Equal(JsonValueKind.Null, bob.GetProperty("clientIdPattern").ValueKind);

        // The hash in the store is a $7$ PBKDF2-SHA512 hash of the password, at the configured cost (Security:PasswordHashIterations).
        var stored = await host.Services.GetRequiredService<Broker.Security.Users.IMqttUserStore>().FindAsync("api-alice", default);
        var hash = PasswordHash.Parse(stored!.PasswordHash, out _)!;
        Assert.StartsWith(MqttUsersHost.HashPrefix, stored.PasswordHash, StringComparison.Ordinal);
        Assert.Equal(MqttUsersHost.Iterations, hash.Iterations);
        Assert.True(hash.Matches("alice-password-1"u8));

        // And a SCRAM-SHA-256 credential (salt, iterations, keys; never the password), made anew with each password.
        var scram = stored.ScramSha256;
        Assert.StartsWith("SCRAM-SHA-256$4096:", scram, StringComparison.Ordinal);

        var changed = await SendAsync(admin.PutAsJsonAsync($"{Users}/api-alice", new { password = "alice-password-2", enabled = false, clientIdPattern = "" }));
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var after = await ReadAsync(changed);
        Assert.False(after.GetProperty("enabled").GetBoolean());
        Assert.Equal(JsonValueKind.Null, after.GetProperty("clientIdPattern").ValueKind);
        Assert.True(after.GetProperty("changedAt").GetDateTimeOffset() >= after.GetProperty("createdAt").GetDateTimeOffset());
        stored = await host.Services.GetRequiredService<Broker.Security.Users.IMqttUserStore>().FindAsync("api-alice", default);
        Assert.True(PasswordHash.Parse(stored!.PasswordHash, out _)!.Matches("alice-password-2"u8));
        Assert.NotEqual(scram, stored.ScramSha256);
        Assert.NotNull(Broker.Security.Scram.ScramCredential.Parse(stored.ScramSha256!));

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(admin.DeleteAsync($"{Users}/api-alice"))).StatusCode);
        await ProblemAssert.IsProblemAsync(await SendAsync(admin.GetAsync($"{Users}/api-alice")), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await SendAsync(admin.DeleteAsync($"{Users}/api-alice")), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await SendAsync(admin.PutAsJsonAsync($"{Users}/api-alice", new { enabled = true })), HttpStatusCode.NotFound);

        AssertNothingSecret("alice-password-1", "alice-password-2", "bob-password-1");
        var log = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?actor=admin&pageSize=500");
        var actions = log.GetProperty("items").EnumerateArray().Select(static e => $"{e.GetProperty("action").GetString()} {e.GetProperty("status").GetInt32()}").ToList();
        Assert.Contains($"POST {Users} 201", actions);
        Assert.Contains($"PUT {Users}/api-alice 200", actions);
        Assert.Contains($"DELETE {Users}/api-alice 204", actions);
    }

    [Fact]
    public async Task Bad_requests_name_their_field_and_a_second_user_of_a_name_is_a_conflict()
    {
        var admin = await host.AdminAsync();
        var invalid = await ProblemAssert.IsProblemAsync(
            await SendAsync(admin.PostAsJsonAsync(Users, new { userName = "", password = "short", clientIdPattern = "a\u0001b" })), HttpStatusCode.BadRequest);
        var errors = invalid.GetProperty("errors");
        Assert.True(errors.TryGetProperty("userName", out _));
        Assert.True(errors.TryGetProperty("password", out _));
        Assert.True(errors.TryGetProperty("clientIdPattern", out _));

        Assert.Equal(HttpStatusCode.Created, (await SendAsync(admin.PostAsJsonAsync(Users, new { userName = "api-twice", password = "first-password" }))).StatusCode);
        await ProblemAssert.IsProblemAsync(await SendAsync(admin.PostAsJsonAsync(Users, new { userName = "api-twice", password = "second-password" })), HttpStatusCode.Conflict);
        var empty = await ProblemAssert.IsProblemAsync(await SendAsync(admin.PutAsJsonAsync($"{Users}/api-twice", new { })), HttpStatusCode.BadRequest);
        Assert.True(empty.GetProperty("errors").TryGetProperty("body", out _));
        var shortPassword = await ProblemAssert.IsProblemAsync(await SendAsync(admin.PutAsJsonAsync($"{Users}/api-twice", new { password = "1234567" })), HttpStatusCode.BadRequest);
        Assert.True(shortPassword.GetProperty("errors").TryGetProperty("password", out _));
        await ProblemAssert.IsProblemAsync(await SendAsync(admin.GetAsync($"{Users}?pageSize=0")), HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(await SendAsync(admin.PostAsJsonAsync($"{Users}/import", new { passwordFile = " " })), HttpStatusCode.BadRequest);

        AssertNothingSecret("first-password", "second-password", "1234567");
    }

    [Fact]
    public async Task A_password_file_is_imported_with_its_hashes_and_each_bad_line_is_reported()
    {
        var admin = await host.AdminAsync();
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(admin.PostAsJsonAsync(Users, new { userName = "imp-existing", password = "existing-password" }))).StatusCode);
        var seven = PasswordHash.Create("carol-password", iterations: 101).Encoded;
        var six = "$6$c2FsdHNhbHQ=$" + Convert.ToBase64String(System.Security.Cryptography.SHA512.HashData("dave-password"u8.ToArray().Concat("saltsalt"u8.ToArray()).ToArray()));
        var file = $"# users\nimp-carol:{seven}\nimp-dave:{six}\nno-colon\nimp-existing:{seven}\nimp-bad:$7$x$y$z\n";

        var imported = await SendAsync(admin.PostAsJsonAsync($"{Users}/import", new { passwordFile = file }));

        Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
        var result = await ReadAsync(imported);
        Assert.Equal(["imp-carol", "imp-dave"], result.GetProperty("added").EnumerateArray().Select(static u => u.GetString()));
        var problems = result.GetProperty("problems").EnumerateArray().Select(static p => (p.GetProperty("line").GetInt32(), p.GetProperty("problem").GetString()!)).ToList();
        Assert.Equal([4, 5, 6], problems.Select(static p => p.Item1));
        Assert.Contains("exists", problems[1].Item2, StringComparison.Ordinal);
        var store = host.Services.GetRequiredService<Broker.Security.Users.IMqttUserStore>();
        Assert.Equal(seven, (await store.FindAsync("imp-carol", default))!.PasswordHash);
        Assert.Equal(six, (await store.FindAsync("imp-dave", default))!.PasswordHash);
        Assert.True(PasswordHash.Parse((await store.FindAsync("imp-existing", default))!.PasswordHash, out _)!.Matches("existing-password"u8));

        AssertNothingSecret("existing-password", "carol-password", "dave-password", seven, six, seven.Split('$')[3], six.Split('$')[3]);
    }

    [Fact]
    public async Task A_viewer_lists_and_reads_users_but_changes_nothing()
    {
        var admin = await host.AdminAsync();
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(admin.PostAsJsonAsync(Users, new { userName = "api-watched", password = "watched-password" }))).StatusCode);
        var viewer = await host.ViewerAsync();

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(viewer.GetAsync(Users))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(viewer.GetAsync($"{Users}/api-watched"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsJsonAsync(Users, new { userName = "api-viewer", password = "viewer-password" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PutAsJsonAsync($"{Users}/api-watched", new { enabled = false })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync($"{Users}/api-watched")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsJsonAsync($"{Users}/import", new { passwordFile = "x:y" })).StatusCode);
        Assert.True((await ReadAsync(await SendAsync(admin.GetAsync($"{Users}/api-watched")))).GetProperty("enabled").GetBoolean());
        AssertNothingSecret("watched-password");
    }

    private async Task<HttpResponseMessage> SendAsync(Task<HttpResponseMessage> sending)
    {
        var response = await sending;
        _answers.Add(await response.Content.ReadAsStringAsync());
        return response;
    }

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    private void AssertNothingSecret(params string[] passwords)
    {
        foreach (var answer in _answers)
        {
            // Every hash the API makes starts so; imported ones are passed in.
            Assert.DoesNotContain(MqttUsersHost.HashPrefix, answer, StringComparison.Ordinal);
            Assert.DoesNotContain("passwordHash", answer, StringComparison.OrdinalIgnoreCase);
            foreach (var password in passwords)
            {
                Assert.DoesNotContain(password, answer, StringComparison.Ordinal);
            }
        }
    }
}
