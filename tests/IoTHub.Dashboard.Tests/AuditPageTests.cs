using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Mqtt;
using IoTHub.Web.Tests;
using IoTHub.Web.Tests.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>
/// The Audit page (issue 17): real chromium, real mosquitto_pub refused by the acl_file of the API tests' <see cref="AccessAuditHost"/>
/// (nothing there lets a user write <c>closed/</c>), entries paged on the server.
/// </summary>
public sealed class AuditPageTests(AccessAuditHost host, Chromium chromium) : IClassFixture<AccessAuditHost>, IClassFixture<Chromium>
{
    private const int Refusals = 60;

    private string BaseUrl => host.Client.BaseAddress!.ToString().TrimEnd('/');

    [Fact]
    public async Task The_page_lists_refused_publishes_searchable_page_by_page_and_the_admin_actions()
    {
        var page = await chromium.NewPageAsync(BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Audit", "Audit log");

        // 60 PUBLISHes on one connection (mosquitto_pub -l, 3.1.1 QoS 0: dropped without an answer), none allowed.
        using (var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-h", host.MqttEndpoint.Address.ToString(),
            "-p", host.MqttEndpoint.Port.ToString(CultureInfo.InvariantCulture), "-i", "dash-audit-denied", "-u", "meter-7", "-t", "closed/meter-7", "-l"],
            string.Concat(Enumerable.Repeat("reading\n", Refusals))))
        {
            Assert.Equal(0, await publisher.WaitForExitAsync(Chromium.Timeout));
        }

        await page.GetByLabel("Client id").FillAsync("dash-audit-denied");
        var rows = page.GetByTestId("audit-entries").Locator("tbody tr");
        await Poll.UntilAsync(async () =>
        {
            await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
            return (await page.GetByTestId("audit-count").TextContentAsync())!.StartsWith($"{Refusals} entries", StringComparison.Ordinal);
        }, Chromium.Timeout, "the refusals are not on the page");

        // The page holds 50 rows; the other 10 are one click away.
        await Expect(page.GetByTestId("audit-count")).ToHaveTextAsync($"{Refusals} entries, page 1 of 2");
        await Expect(rows).ToHaveCountAsync(50);
        // Result, action, client id, user, topic, rule: no rule speaks about closed/, the default denied.
        var cells = rows.First.Locator("td");
        string[] expected = ["deny", "publish", "dash-audit-denied", "meter-7", "closed/meter-7", "default"];
        for (var i = 0; i < expected.Length; i++)
        {
            await Expect(cells.Nth(i + 1)).ToHaveTextAsync(expected[i]);
        }

        await Expect(cells.Nth(7)).ToContainTextAsync("127.0.0.1:");
        await page.GetByRole(AriaRole.Button, new() { Name = "Older" }).ClickAsync();
        await Expect(page.GetByTestId("audit-count")).ToHaveTextAsync($"{Refusals} entries, page 2 of 2");
        await Expect(rows).ToHaveCountAsync(Refusals - 50);

        // A search that matches nothing, then the admin actions.
        await page.GetByLabel("Result").SelectOptionAsync("allow");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.GetByTestId("audit-count")).ToHaveTextAsync("0 entries, page 1 of 1");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Admin actions" }).ClickAsync();
        await Expect(page.GetByLabel("Actor")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("audit-entries").Locator("thead")).ToContainTextAsync("Status");

        // Admin actions searched by a part of the action: a refused API change (404) is there.
        var missing = await (await host.AdminAsync()).DeleteAsync("/api/v1/retained/audit-page/missing");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
        await page.GetByLabel("Action contains").FillAsync("audit-page/missing");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.GetByTestId("audit-count")).ToHaveTextAsync("1 entries, page 1 of 1");
        await Expect(rows.First).ToContainTextAsync("DELETE /api/v1/retained/audit-page/missing");
        await Expect(rows.First).ToContainTextAsync("404");
    }

    [Fact]
    public async Task A_change_made_in_the_dashboard_and_through_the_api_has_one_action_and_one_search_finds_both()
    {
        // A client id with spaces: the action holds the path as a request's path is written, escaped, whichever way it came.
        const string ClientId = "audit same 000000";
        const string Action = "DELETE /api/v1/sessions/audit%20same%20000000";
        var broker = host.Services.GetRequiredService<BrokerRegistry>().Default;
        await SessionFleet.CreateAsync(broker, "audit same ", 1, static _ => 1);
        var page = await chromium.NewPageAsync(BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Sessions", "Sessions and subscriptions");
        await page.GetByLabel("Filter sessions").FillAsync(ClientId);
        var row = page.Locator($"[data-testid=sessions] tr[data-client-id=\"{ClientId}\"]");
        await row.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync($"Deleted the session of '{ClientId}'.");
        Assert.Null(broker.GetSession(ClientId));

        // The same change through the API (the session is gone by now: 404, written all the same).
        var admin = await host.AdminAsync();
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/v1/sessions/" + Uri.EscapeDataString(ClientId))).StatusCode);

        var found = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?action=" + Uri.EscapeDataString(Action));
        Assert.Equal([(Action, "api", 404), (Action, "dashboard", 204)], found.GetProperty("items").EnumerateArray()
            .Select(static e => (e.GetProperty("action").GetString(), e.GetProperty("source").GetString(), e.GetProperty("status").GetInt32())));

        // The Audit page finds both by the same text, and says where each came from.
        await NavigateAsync(page, "Audit", "Audit log");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Admin actions" }).ClickAsync();
        await page.GetByLabel("Action contains").FillAsync(Action);
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.GetByTestId("audit-count")).ToHaveTextAsync("2 entries, page 1 of 1");
        var rows = page.GetByTestId("audit-entries").Locator("tbody tr");
        await Expect(rows.Nth(0)).ToHaveAttributeAsync("data-source", "api");
        await Expect(rows.Nth(1)).ToHaveAttributeAsync("data-source", "dashboard");
        await Expect(rows.Nth(1).Locator("td").Nth(1)).ToHaveTextAsync("dashboard");
        await Expect(rows.Nth(1)).ToContainTextAsync(Action);
    }

    [Fact]
    public async Task A_viewer_has_no_audit_page()
    {
        await host.ViewerAsync();
        var page = await chromium.NewPageAsync(BaseUrl);
        await LogInAsync(page, AdminApiHost.ViewerName, AdminApiHost.ViewerPassword);
        await Expect(page.GetByRole(AriaRole.Navigation).GetByRole(AriaRole.Link, new() { Name = "Audit", Exact = true })).ToHaveCountAsync(0);

        // The address typed in: the role is checked before the page renders, and the login page (to log in as an admin) answers.
        await page.GotoAsync("/audit");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?ReturnUrl=%2Faudit$"));
        await Expect(page.GetByTestId("audit-entries")).ToHaveCountAsync(0);
    }
}
