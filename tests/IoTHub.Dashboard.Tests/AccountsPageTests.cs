using System.Net;
using System.Net.Http.Json;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The Accounts and API keys pages (issue 23): real chromium; what the pages change checked through the API's logins and keys.</summary>
public sealed class AccountsPageTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task An_admin_adds_an_account_resets_its_password_changes_its_role_and_deletes_it()
    {
        var page = await OpenAsync("Accounts", "Accounts");
        await page.Locator("#account-name").FillAsync("dash-operator");
        await page.Locator("#account-password").FillAsync("short");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add account" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("password must be at least 12 characters.");

        await page.Locator("#account-password").FillAsync("operator-password-1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add account" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Added account 'dash-operator' (viewer).");
        var row = page.Locator("tr[data-account=\"dash-operator\"]");
        await Expect(row).ToContainTextAsync("viewer");
        using var asViewer = host.WithToken(await host.LoginAsync("dash-operator", "operator-password-1"));
        Assert.Equal(HttpStatusCode.OK, (await asViewer.GetAsync("/api/v1/brokers")).StatusCode);

        await row.GetByRole(AriaRole.Button, new() { Name = "Reset password" }).ClickAsync();
        await row.GetByLabel("New password for dash-operator").FillAsync("operator-password-2");
        await row.GetByRole(AriaRole.Button, new() { Name = "Save password" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Set a new password for 'dash-operator'.");
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync("dash-operator", "operator-password-1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync("dash-operator", "operator-password-2")).StatusCode);

        // A new role ends the logins of the old one.
        await row.GetByRole(AriaRole.Button, new() { Name = "Make admin" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("'dash-operator' is now an admin; its logins of the old role ended.");
        await Expect(row).ToContainTextAsync("admin");
        Assert.Equal(HttpStatusCode.Unauthorized, (await asViewer.GetAsync("/api/v1/brokers")).StatusCode);

        await row.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Expect(row).ToContainTextAsync("Delete account dash-operator and end its logins?");
        await row.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Deleted account 'dash-operator'; its logins ended.");
        await Expect(row).ToHaveCountAsync(0);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync("dash-operator", "operator-password-2")).StatusCode);

        var audit = await (await host.AdminAsync()).GetStringAsync("/api/v1/audit?actor=admin&pageSize=500");
        Assert.Contains("\"PUT /api/v1/accounts/dash-operator\"", audit, StringComparison.Ordinal);
        Assert.Contains("\"DELETE /api/v1/accounts/dash-operator\"", audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_last_admin_stays_an_admin_and_a_delete_repeated_after_another_admins_is_done()
    {
        var admin = await host.AdminAsync();
        Assert.Equal(HttpStatusCode.Created,
            (await admin.PostAsJsonAsync("/api/v1/accounts", new { userName = "dash-gone", password = "gone-password-1", role = AdminRoles.Viewer })).StatusCode);
        var page = await OpenAsync("Accounts", "Accounts");
        var first = page.Locator($"tr[data-account=\"{FirstAdmin.UserName}\"]");

        await first.GetByRole(AriaRole.Button, new() { Name = "Make viewer" }).ClickAsync();
        await Expect(page.Locator(".message-error")).ToHaveTextAsync("The last admin account cannot become a viewer.");
        await first.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await first.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" }).ClickAsync();
        await Expect(page.Locator(".message-error")).ToHaveTextAsync("The last admin account cannot be deleted.");
        await Expect(first).ToContainTextAsync("admin");

        var gone = page.Locator("tr[data-account=\"dash-gone\"]");
        await gone.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/accounts/dash-gone")).StatusCode);
        await gone.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" }).ClickAsync();
        await Expect(page.Locator(".message-ok")).ToHaveTextAsync("Account 'dash-gone' was already deleted.");
        await Expect(gone).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task An_api_key_created_in_the_page_is_shown_once_works_and_stops_when_revoked()
    {
        var page = await OpenAsync("API keys", "API keys");
        await page.Locator("#key-name").FillAsync("dash-script");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Created API key 'dash-script' (viewer). Copy the key now: it is not shown again.");
        var key = await page.GetByTestId("new-key").InputValueAsync();
        using var script = new HttpClient { BaseAddress = host.Client.BaseAddress };
        script.DefaultRequestHeaders.Add(AdminApiKeys.Header, key);
        Assert.Equal(HttpStatusCode.OK, (await script.GetAsync("/api/v1/statistics")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await script.PostAsJsonAsync("/api/v1/publish", new { topic = "a", payload = "b" })).StatusCode);

        var row = page.Locator("tr[data-key=\"dash-script\"]");
        await Expect(row).ToContainTextAsync(FirstAdmin.UserName);
        await row.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await Expect(row).ToContainTextAsync("Revoke API key dash-script (");
        await row.GetByRole(AriaRole.Button, new() { Name = "Confirm revoke" }).ClickAsync();

        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Revoked API key 'dash-script'; it stopped working.");
        await Expect(page.GetByTestId("new-key")).ToHaveCountAsync(0);
        await Expect(row).ToHaveCountAsync(0);
        Assert.Equal(HttpStatusCode.Unauthorized, (await script.GetAsync("/api/v1/statistics")).StatusCode);
        await page.ReloadAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "API keys", Level = 1 })).ToBeVisibleAsync();
        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_viewer_has_neither_page()
    {
        await host.ViewerAsync();
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, AdminApiHost.ViewerName, AdminApiHost.ViewerPassword);
        var navigation = page.GetByRole(AriaRole.Navigation);
        await Expect(navigation.GetByRole(AriaRole.Link, new() { Name = "Retained", Exact = true })).ToHaveCountAsync(1);
        await Expect(navigation.GetByRole(AriaRole.Link, new() { Name = "Accounts", Exact = true })).ToHaveCountAsync(0);
        await Expect(navigation.GetByRole(AriaRole.Link, new() { Name = "API keys", Exact = true })).ToHaveCountAsync(0);

        // Typed in: the role is checked before the page renders, as the API answers 403 to a viewer.
        foreach (var path in new[] { "/accounts", "/api-keys" })
        {
            await page.GotoAsync(path);
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Log in" })).ToBeVisibleAsync();
        }
    }

    [Fact]
    public async Task A_failed_dashboard_login_is_audited_with_the_name_tried()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await page.GotoAsync("/login");
        await page.Locator("#userName").FillAsync("dash-intruder");
        await page.Locator("#password").FillAsync("guessed-password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await Expect(page.GetByText(AdminLogin.WrongCredentialsMessage)).ToBeVisibleAsync();

        var log = await (await host.AdminAsync()).GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/audit?actor=dash-intruder");
        var entry = Assert.Single(log.GetProperty("items").EnumerateArray());
        Assert.Equal(("POST /login", 401, "dashboard"),
            (entry.GetProperty("action").GetString(), entry.GetProperty("status").GetInt32(), entry.GetProperty("source").GetString()));
    }

    private Task<IPage> OpenAsync(string link, string heading) =>
        DashboardPage.OpenAsync(chromium, host, FirstAdmin.UserName, AdminApiHost.AdminPassword, link, heading);

    private Task<HttpResponseMessage> LoginAsync(string userName, string password) =>
        host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName, password });
}
