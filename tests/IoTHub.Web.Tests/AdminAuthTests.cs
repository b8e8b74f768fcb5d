using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Web.Auth;

namespace IoTHub.Web.Tests;

/// <summary>Login, tokens and roles of the admin API on a host with SQLite storage (accounts in the database).</summary>
public sealed class AdminAuthTests(AdminApiHost host) : IClassFixture<AdminApiHost>
{
    public static TheoryData<string> ReadEndpoints =>
    [
        "/api/v1/brokers", "/api/v1/listeners", "/api/v1/clients", "/api/v1/sessions", "/api/v1/subscriptions", "/api/v1/retained",
        "/api/v1/statistics",
    ];

    [Theory]
    [MemberData(nameof(ReadEndpoints))]
    public async Task Every_api_endpoint_answers_401_without_a_token(string path)
    {
        var response = await host.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(response.Headers.WwwAuthenticate, static h => h.Scheme == "Bearer");
    }

    [Fact]
    public async Task A_forged_token_is_401()
    {
        var token = await host.LoginAsync(FirstAdmin.UserName, AdminApiHost.AdminPassword);
        // The same claims with another signature.
        var forged = token[..token.LastIndexOf('.')] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        using var client = host.WithToken(forged);

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/brokers")).StatusCode);
    }

    [Fact]
    public async Task Login_issues_a_bearer_token_that_the_api_accepts()
    {
        var response = await host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "admin", password = AdminApiHost.AdminPassword });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Bearer", body.GetProperty("tokenType").GetString());
        Assert.Equal("admin", body.GetProperty("role").GetString());
        Assert.InRange(body.GetProperty("expiresIn").GetInt64(), 3500, 3600);
        using var client = host.WithToken(body.GetProperty("accessToken").GetString()!);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/brokers")).StatusCode);
    }

    [Theory]
    [InlineData("admin", "wrong-password")]
    [InlineData("nobody", "whatever-password")]
    public async Task A_wrong_password_or_unknown_account_is_401_problem(string userName, string password)
    {
        var response = await host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName, password });

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal("The user name or password is wrong.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_login_without_credentials_is_400_with_the_missing_fields()
    {
        var response = await host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "" });

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("userName", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("password", out _));
    }

    [Fact]
    public async Task A_viewer_reads_but_every_change_is_403()
    {
        var viewer = await host.ViewerAsync();

        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/v1/clients")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/v1/statistics")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsJsonAsync("/api/v1/publish", new { topic = "a/b", payload = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PutAsJsonAsync("/api/v1/retained/a/b", new { payload = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync("/api/v1/retained/a/b")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync("/api/v1/clients/someone/disconnect", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync("/api/v1/sessions/someone")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsJsonAsync("/api/v1/subscriptions", new { clientId = "c", topicFilter = "#" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync("/api/v1/subscriptions?clientId=c&topicFilter=x")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden,
            (await viewer.PostAsJsonAsync("/api/v1/accounts", new { userName = "x", password = "long-enough-password", role = "admin" })).StatusCode);
    }

    [Fact]
    public async Task Accounts_live_in_the_database_hashed()
    {
        var admin = await host.AdminAsync();
        var created = await admin.PostAsJsonAsync("/api/v1/accounts", new { userName = "hashed", password = "hashed-password-1", role = "viewer" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        // In WAL mode a fresh row may still be in the write-ahead log: read the database and its log.
        var files = new[] { "iothub.db", "iothub.db-wal" }.Select(name => Path.Combine(host.DataDirectory, name)).Where(File.Exists);
        var text = string.Concat(await Task.WhenAll(files.Select(async file => System.Text.Encoding.UTF8.GetString(await File.ReadAllBytesAsync(file)))));
        Assert.Contains("hashed", text, StringComparison.Ordinal);
        Assert.DoesNotContain("hashed-password-1", text, StringComparison.Ordinal);
        Assert.DoesNotContain(AdminApiHost.AdminPassword, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_last_admin_cannot_be_deleted()
    {
        var admin = await host.AdminAsync();

        await ProblemAssert.IsProblemAsync(await admin.DeleteAsync("/api/v1/accounts/admin"), HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task An_accounts_password_and_role_are_changed_and_its_tokens_of_the_old_role_end()
    {
        var admin = await host.AdminAsync();
        using var asViewer = await host.NewAccountAsync("changer", "changer-password-1", "viewer");

        var nothing = await admin.PutAsJsonAsync("/api/v1/accounts/changer", new { });
        var tooShort = await admin.PutAsJsonAsync("/api/v1/accounts/changer", new { password = "short", role = "admin" });
        var unknown = await admin.PutAsJsonAsync("/api/v1/accounts/nobody", new { role = "admin" });
        var changed = await admin.PutAsJsonAsync("/api/v1/accounts/changer", new { password = "changer-password-2", role = "admin" });

        Assert.True((await ProblemAssert.IsProblemAsync(nothing, HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("body", out _));
        Assert.True((await ProblemAssert.IsProblemAsync(tooShort, HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("password", out _));
        await ProblemAssert.IsProblemAsync(unknown, HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal("admin", (await changed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("role").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await asViewer.GetAsync("/api/v1/clients")).StatusCode);
        var wrongPassword = await host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "changer", password = "changer-password-1" });
        Assert.Equal(HttpStatusCode.Unauthorized, wrongPassword.StatusCode);
        using var asAdmin = host.WithToken(await host.LoginAsync("changer", "changer-password-2"));
        Assert.Equal(HttpStatusCode.OK, (await asAdmin.GetAsync("/api/v1/accounts")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/accounts/changer")).StatusCode);
    }

    [Fact]
    public async Task The_last_admin_cannot_become_a_viewer()
    {
        var admin = await host.AdminAsync();

        var response = await admin.PutAsJsonAsync("/api/v1/accounts/admin", new { role = "viewer" });

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/accounts")).StatusCode);
    }

    [Fact]
    public async Task The_generated_signing_key_is_readable_by_its_owner_only()
    {
        // The key is made with the first token: log in first, whatever ran before in this class.
        await host.AdminAsync();
        var path = Path.Combine(host.DataDirectory, SigningKey.FileName);

        Assert.True(File.Exists(path));
        Assert.False(OperatingSystem.IsWindows(), "file modes are a Unix notion; this suite runs on Linux");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    [InlineData("/metrics")]
    [InlineData("/swagger/v1/swagger.json")]
    public async Task Health_metrics_and_the_api_description_are_open(string path)
    {
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync(path)).StatusCode);
    }
}

/// <summary>A host that allows few failed logins.</summary>
public sealed class StrictLoginHost() : AdminApiHost(new Dictionary<string, string> { ["Admin:FailedLoginLimit"] = "3", ["Admin:FailedLoginWindow"] = "00:10:00" });

public sealed class LoginRateLimitTests(StrictLoginHost host) : IClassFixture<StrictLoginHost>
{
    [Fact]
    public async Task Failed_logins_beyond_the_limit_are_429_even_with_the_right_password()
    {
        for (var i = 0; i < 3; i++)
        {
            var failed = await host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "admin", password = "guess-" + i });
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }

        var limited = await host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "admin", password = AdminApiHost.AdminPassword });

        await ProblemAssert.IsProblemAsync(limited, HttpStatusCode.TooManyRequests);
        Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero);
    }
}

/// <summary>With the memory provider the first admin lives in memory, and is created at every start.</summary>
public sealed class MemoryAccountsHost() : AdminApiHost(new Dictionary<string, string> { ["Storage:Provider"] = "memory" });

public sealed class MemoryAccountsTests(MemoryAccountsHost host) : IClassFixture<MemoryAccountsHost>
{
    [Fact]
    public async Task The_first_admin_can_log_in()
    {
        var admin = await host.AdminAsync();

        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/accounts")).StatusCode);
        Assert.False(File.Exists(Path.Combine(host.DataDirectory, "iothub.db")));
    }
}

/// <summary>Deleting an account ends its tokens at once.</summary>
public sealed class AccountDeletionTests(AdminApiHost host) : IClassFixture<AdminApiHost>
{
    [Fact]
    public async Task A_deleted_accounts_token_is_refused()
    {
        var admin = await host.AdminAsync();
        using var client = await host.NewAccountAsync("short-lived", "short-lived-password", "viewer");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/brokers")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/accounts/short-lived")).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/brokers")).StatusCode);
    }

    [Fact]
    public async Task Logout_ends_the_token_and_the_accounts_other_tokens_while_a_new_login_works()
    {
        (await host.NewAccountAsync("leaver", "leaver-password", "viewer")).Dispose();
        var token = await host.LoginAsync("leaver", "leaver-password");
        var other = await host.LoginAsync("leaver", "leaver-password");
        using var client = host.WithToken(token);
        using var otherClient = host.WithToken(other);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/brokers")).StatusCode);

        var loggedOut = await client.PostAsync("/api/v1/auth/logout", null);

        Assert.Equal(HttpStatusCode.NoContent, loggedOut.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/brokers")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await otherClient.GetAsync("/api/v1/brokers")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/api/v1/auth/logout", null)).StatusCode);
        using var again = host.WithToken(await host.LoginAsync("leaver", "leaver-password"));
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync("/api/v1/brokers")).StatusCode);
        var audit = await (await host.AdminAsync()).GetStringAsync("/api/v1/audit?actor=leaver");
        Assert.Contains("POST /api/v1/auth/logout", audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_with_an_api_key_is_400_and_the_key_keeps_working()
    {
        var created = await (await host.AdminAsync()).PostAsJsonAsync("/api/v1/api-keys", new { name = "logout-script", role = "viewer" });
        var key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        using var script = new HttpClient { BaseAddress = host.Client.BaseAddress };
        script.DefaultRequestHeaders.Add("X-Api-Key", key);

        var problem = await ProblemAssert.IsProblemAsync(await script.PostAsync("/api/v1/auth/logout", null), HttpStatusCode.BadRequest);

        Assert.Contains("DELETE /api/v1/api-keys/", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await script.GetAsync("/api/v1/brokers")).StatusCode);
    }
}
