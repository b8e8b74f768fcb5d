using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Mqtt;
using IoTHub.Web.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>
/// The Sessions page over 100 000 sessions made through the engine (<see cref="SessionFleet"/>: offline, i % 7 queued messages
/// and one subscription each): it renders one page of each list, and pages, sorts and filters on the server.
/// </summary>
public sealed class SessionPagesTests(SessionPagesTests.FleetDashboardHost host, Chromium chromium)
    : IClassFixture<SessionPagesTests.FleetDashboardHost>, IClassFixture<Chromium>
{
    private const int Fleet = 100_000;

    [Fact]
    public async Task With_100_000_sessions_the_page_shows_one_page_and_pages_sorts_and_filters_on_the_server()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Sessions", "Sessions and subscriptions");
        var rows = page.GetByTestId("sessions").Locator("tbody tr");
        var position = page.GetByTestId("sessions-pager-position");

        await Expect(position).ToHaveTextAsync("Page 1 of 2,000 · 100,000 sessions");
        await Expect(rows).ToHaveCountAsync(50);
        await Expect(rows.First).ToHaveAttributeAsync("data-client-id", "fleet-000000");
        await Expect(page.GetByTestId("subscriptions").Locator("tbody tr")).ToHaveCountAsync(50);
        await Expect(page.GetByTestId("subscriptions-pager-position")).ToHaveTextAsync("Page 1 of 2,000 · 100,000 subscriptions");

        await page.GetByTestId("sessions-pager").GetByRole(AriaRole.Button, new() { Name = "Next" }).ClickAsync();
        await Expect(position).ToHaveTextAsync("Page 2 of 2,000 · 100,000 sessions");
        await Expect(rows.First).ToHaveAttributeAsync("data-client-id", "fleet-000050");
        await Expect(rows).ToHaveCountAsync(50);

        // Deepest queue first (6: ids 6, 13, 20, ...), back on page 1.
        await page.GetByLabel("Sort by").SelectOptionAsync("Queued");
        await page.GetByLabel("Order", new() { Exact = true }).SelectOptionAsync("Desc");
        await Expect(position).ToHaveTextAsync("Page 1 of 2,000 · 100,000 sessions");
        await Expect(rows.First).ToHaveAttributeAsync("data-client-id", "fleet-000006");
        await Expect(rows.Nth(1)).ToHaveAttributeAsync("data-client-id", "fleet-000013");

        var deep = Enumerable.Range(0, Fleet).Count(static i => i % 7 == 6);
        await page.GetByLabel("State").SelectOptionAsync("offline");
        await page.GetByLabel("Minimum queued").FillAsync("6");
        await Expect(position).ToHaveTextAsync(string.Create(CultureInfo.InvariantCulture,
            $"Page 1 of {(deep + 49) / 50:N0} · {deep:N0} sessions"));
        await Expect(rows).ToHaveCountAsync(50);

        await page.GetByLabel("State").SelectOptionAsync("connected");
        await Expect(position).ToHaveTextAsync("Page 1 of 1 · 0 sessions");
        await Expect(rows).ToHaveCountAsync(0);

        await page.GetByLabel("State").SelectOptionAsync(string.Empty);
        await page.GetByLabel("Minimum queued").FillAsync(string.Empty);
        await page.GetByLabel("Client id match").SelectOptionAsync("Exact");
        await page.GetByLabel("Filter sessions").FillAsync("fleet-054321");
        await Expect(position).ToHaveTextAsync("Page 1 of 1 · 1 sessions");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(page.GetByTestId("subscriptions").Locator("tbody tr")).ToHaveCountAsync(1);
        await Expect(page.GetByTestId("subscriptions").Locator("tbody tr")).ToContainTextAsync("fleet/fleet-054321");

        await page.GetByLabel("Client id match").SelectOptionAsync("Contains");
        await page.GetByLabel("Filter sessions").FillAsync("fleet-0543");
        await Expect(position).ToHaveTextAsync("Page 1 of 2 · 100 sessions");
    }

    /// <summary>The dashboard's host (memory storage) with 100 000 sessions made through its engine.</summary>
    public sealed class FleetDashboardHost : DashboardHost
    {
        public FleetDashboardHost()
            : base(new Dictionary<string, string> { ["Storage:Provider"] = "memory" })
        {
            SessionFleet.CreateAsync(Services.GetRequiredService<BrokerRegistry>().Default, "fleet-", Fleet, static i => i % 7).GetAwaiter().GetResult();
        }
    }
}

/// <summary>The row actions of the Sessions and Clients pages, admin and viewer, seen by real MQTT clients.</summary>
public sealed class SessionActionsTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task An_admin_removes_a_subscription_after_confirming_and_the_client_no_longer_gets_its_messages()
    {
        using var subscriber = DashboardPage.Mqtt(host, "mosquitto_sub", "-i", "dash-unsub", "-t", "dash/unsub/#", "-t", "dash/keep/#");
        var broker = host.Services.GetRequiredService<BrokerRegistry>().Default;
        await Poll.UntilAsync(() => broker.GetSubscriptions("dash-unsub")?.Count == 2, Chromium.Timeout);
        var page = await AdminPageAsync("dash-unsub");
        var row = page.Locator("[data-testid=subscriptions] tr[data-client-id=\"dash-unsub\"][data-topic-filter=\"dash/unsub/#\"]");

        await row.GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await Expect(row).ToContainTextAsync("Remove 'dash/unsub/#' of 'dash-unsub'?");
        await row.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();

        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Removed 'dash/unsub/#' of 'dash-unsub'.");
        await Expect(row).ToHaveCountAsync(0);
        var admin = await host.AdminAsync();
        var gone = await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "dash/unsub/x", payload = "gone" });
        var kept = await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "dash/keep/x", payload = "kept" });
        Assert.Equal(0, (await gone.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("subscribersReached").GetInt32());
        Assert.Equal(1, (await kept.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("subscribersReached").GetInt32());

        // Both went through one queue in order: once "kept" is there, "gone" would have come before it.
        await subscriber.WaitForLineAsync(static line => line == "kept", Chromium.Timeout);
        Assert.DoesNotContain("gone", subscriber.Lines);
        var entry = await AuditEntryAsync(host, "DELETE /api/v1/subscriptions?clientId=dash-unsub&topicFilter=dash%2Funsub%2F%23");
        Assert.Equal(204, entry.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task An_admin_disconnects_and_deletes_a_session_after_confirming_naming_it()
    {
        using var subscriber = DashboardPage.Mqtt(host, "mosquitto_sub", "-i", "dash-doomed", "-c", "-x", "3600", "-t", "dash/doomed/#");
        await subscriber.WaitForLineAsync("Subscribed (mid: ", Chromium.Timeout);
        var page = await AdminPageAsync("dash-doomed");
        var row = page.Locator("[data-testid=sessions] tr[data-client-id=\"dash-doomed\"]");

        await row.GetByRole(AriaRole.Button, new() { Name = "Disconnect and delete" }).ClickAsync();
        await Expect(row).ToContainTextAsync("Disconnect 'dash-doomed' and delete with its 0 queued messages and 1 subscriptions?");
        await row.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();

        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Deleted the session of 'dash-doomed'.");
        await subscriber.WaitForExitAsync(Chromium.Timeout);
        Assert.Contains(subscriber.Lines, static line => line.Contains("Received DISCONNECT (152)", StringComparison.Ordinal));
        await Expect(row).ToHaveCountAsync(0);
        Assert.Equal(HttpStatusCode.NotFound, (await (await host.AdminAsync()).GetAsync("/api/v1/sessions/dash-doomed")).StatusCode);
        var entry = await AuditEntryAsync(host, "DELETE /api/v1/sessions/dash-doomed");
        Assert.Equal(204, entry.GetProperty("status").GetInt32());
        Assert.Equal(FirstAdmin.UserName, entry.GetProperty("actor").GetString());
    }

    [Fact]
    public async Task Deleting_a_session_that_is_already_gone_counts_as_done()
    {
        var broker = host.Services.GetRequiredService<BrokerRegistry>().Default;
        await SessionFleet.CreateAsync(broker, "dash-twice-", 1, static _ => 2);
        var first = await AdminPageAsync("dash-twice-");
        var second = await AdminPageAsync("dash-twice-");
        var rowOf = static (IPage page) => page.Locator("[data-testid=sessions] tr[data-client-id=\"dash-twice-000000\"]");

        // The same delete asked for on two pages (or twice on one): the second finds nothing to delete, and says it is done.
        foreach (var page in new[] { first, second })
        {
            await rowOf(page).GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
            await Expect(rowOf(page)).ToContainTextAsync("Delete the session of 'dash-twice-000000' with its 2 queued messages and 1 subscriptions?");
        }

        await rowOf(first).GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();
        await Expect(first.GetByTestId("outcome")).ToHaveTextAsync("Deleted the session of 'dash-twice-000000'.");
        Assert.Null(broker.GetSession("dash-twice-000000"));
        await rowOf(second).GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();

        var outcome = second.GetByTestId("outcome");
        await Expect(outcome).ToHaveTextAsync("The session of 'dash-twice-000000' was already deleted.");
        await Expect(outcome).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("message-ok"));
        await Expect(rowOf(second)).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_viewer_sees_sessions_subscriptions_and_clients_without_action_buttons()
    {
        await SessionFleet.CreateAsync(host.Services.GetRequiredService<BrokerRegistry>().Default, "dash-viewed-", 1, static _ => 1);
        using var subscriber = await SubscribeAsync(host, "dash-viewed-live", "dash/viewed/#");
        await host.ViewerAsync();
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, AdminApiHost.ViewerName, AdminApiHost.ViewerPassword);

        await NavigateAsync(page, "Sessions", "Sessions and subscriptions");
        await page.GetByLabel("Filter sessions").FillAsync("dash-viewed-");
        await Expect(page.Locator("[data-testid=sessions] tr[data-client-id=\"dash-viewed-000000\"]")).ToContainTextAsync("offline");
        await Expect(page.Locator("[data-testid=subscriptions] tr[data-client-id=\"dash-viewed-live\"]")).ToContainTextAsync("dash/viewed/#");
        await Expect(page.GetByText("You are signed in as a viewer")).ToBeVisibleAsync();
        await Expect(page.Locator("main table").GetByRole(AriaRole.Button)).ToHaveCountAsync(0);

        await NavigateAsync(page, "Clients", "Clients");
        await Expect(ClientRow(page, "dash-viewed-live")).ToBeVisibleAsync();
        await Expect(page.Locator("main table").GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
    }

    /// <summary>An admin's Sessions page, its lists filtered by a client id that contains <paramref name="clientId"/>.</summary>
    private async Task<IPage> AdminPageAsync(string clientId)
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Sessions", "Sessions and subscriptions");
        await page.GetByLabel("Filter sessions").FillAsync(clientId);
        await Expect(page.Locator("[data-testid=sessions] tbody tr").First).ToContainTextAsync(clientId);
        return page;
    }
}
