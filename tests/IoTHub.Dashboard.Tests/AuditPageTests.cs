using System.Globalization;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using IoTHub.Web.Tests.Security;
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
