using System.Net.Http.Json;
using System.Text.RegularExpressions;
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
/// The client page (/clients/{clientId}), reached from the rows that name a client: a real mosquitto_sub's connection terms, will,
/// subscriptions and counters, live while it goes offline; an offline session of a client id with '/' in it; a client with no session.
/// </summary>
public sealed class ClientDetailPageTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task An_admin_opens_a_connected_client_from_the_clients_list_and_sees_it_go_offline()
    {
        using var subscriber = DashboardPage.Mqtt(host, "mosquitto_sub", "-i", "dash-detail", "-c", "-x", "600", "-k", "45", "-q", "1", "-t", "dash/detail/#",
            "--will-topic", "dash/detail/will", "--will-qos", "1", "--will-retain", "--will-payload", "bye", "-D", "will", "will-delay-interval", "30");
        await subscriber.WaitForLineAsync("Subscribed (mid: ", Chromium.Timeout);
        var admin = await host.AdminAsync();
        await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "dash/detail/a", payload = "one", qos = 1 });
        await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "dash/detail/b", payload = "two", qos = 1 });
        await subscriber.WaitForLineAsync("two", Chromium.Timeout);
        var page = await OpenAsync(chromium, host, FirstAdmin.UserName, AdminApiHost.AdminPassword, "Clients", "Clients");

        await ClientRow(page, "dash-detail").GetByRole(AriaRole.Link, new() { Name = "dash-detail" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "dash-detail", Level = 1 })).ToBeVisibleAsync();
        Assert.EndsWith("/clients/dash-detail?broker=default", page.Url, StringComparison.Ordinal);
        await Expect(page.GetByTestId("client-state")).ToContainTextAsync("Connected · broker 'default'");
        await Expect(page.GetByTestId("protocol")).ToHaveTextAsync("MQTT 5.0");
        await Expect(page.GetByTestId("keep-alive")).ToHaveTextAsync("45 s");
        await Expect(page.GetByTestId("clean-start")).ToHaveTextAsync("no");
        await Expect(page.GetByTestId("listener")).ToHaveTextAsync(new Regex("^tcp://"));
        await Expect(page.GetByTestId("transport")).ToHaveTextAsync("TCP");
        await Expect(page.GetByTestId("will")).ToHaveTextAsync("dash/detail/will, QoS 1, retained, delay 30 s");
        await Expect(page.GetByTestId("session-expiry")).ToHaveTextAsync("10 min");
        await Expect(page.GetByTestId("expires-at")).ToHaveTextAsync("10 min after the connection ends");
        await Expect(page.GetByTestId("last-disconnect")).ToHaveTextAsync("none since the broker started");
        await Expect(page.GetByTestId("messages-out")).ToHaveTextAsync("2");
        await Expect(page.GetByTestId("messages-in")).ToHaveTextAsync("0");
        await Expect(page.GetByTestId("dropped-queue_full")).ToHaveTextAsync("0");
        await Expect(page.GetByTestId("client-subscriptions").Locator("tbody tr")).ToHaveAttributeAsync("data-topic-filter", "dash/detail/#");
        await Screenshots.SaveAsync(page, "dashboard/client.png", fullPage: true);

        // Killed: its session stays (600 s), and the page follows without a reload.
        subscriber.Dispose();
        await Expect(page.GetByTestId("client-state")).ToContainTextAsync("Offline");
        await Expect(page.GetByTestId("last-disconnect")).ToHaveTextAsync(new Regex("^(connection closed by the client|network connection lost)$"));
        await Expect(page.GetByTestId("expires-at")).ToHaveTextAsync(new Regex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC unless the client comes back$"));
        await Expect(page.GetByTestId("messages-out")).ToHaveTextAsync("2");
        await admin.DeleteAsync("/api/v1/sessions/dash-detail");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task An_admin_subscribes_the_client_removes_a_subscription_and_deletes_its_session_from_its_page()
    {
        using var subscriber = DashboardPage.Mqtt(host, "mosquitto_sub", "-i", "dash-acted", "-c", "-x", "600", "-t", "dash/acted/#");
        await subscriber.WaitForLineAsync("Subscribed (mid: ", Chromium.Timeout);
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await page.GotoAsync("clients/dash-acted");
        await WaitUntilLiveAsync(page);
        var form = page.GetByTestId("add-subscription");
        var outcome = page.GetByTestId("outcome");

        // Refused as the API refuses it, by the API's own handler.
        await form.GetByLabel("Topic filter").FillAsync("dash/#/bad");
        await form.GetByRole(AriaRole.Button, new() { Name = "Subscribe" }).ClickAsync();
        await Expect(outcome).ToHaveClassAsync(new Regex("message-error"));

        await form.GetByLabel("Topic filter").FillAsync("dash/added/#");
        await form.GetByLabel("QoS").SelectOptionAsync("1");
        await form.GetByRole(AriaRole.Button, new() { Name = "Subscribe" }).ClickAsync();
        await Expect(outcome).ToHaveTextAsync("Subscribed 'dash-acted' to 'dash/added/#'.");
        var added = page.Locator("[data-testid=client-subscriptions] tr[data-topic-filter=\"dash/added/#\"]");
        await Expect(added.Locator("td.num")).ToHaveTextAsync("1");
        var admin = await host.AdminAsync();
        await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "dash/added/x", payload = "through the added subscription" });
        await subscriber.WaitForLineAsync("through the added subscription", Chromium.Timeout);
        // Written as the API request that makes the same change (the filter is in its body, which the log leaves out).
        var entry = await AuditEntryAsync(host, "POST /api/v1/subscriptions");
        Assert.Equal(201, entry.GetProperty("status").GetInt32());
        Assert.Equal("dashboard", entry.GetProperty("source").GetString());

        var own = page.Locator("[data-testid=client-subscriptions] tr[data-topic-filter=\"dash/acted/#\"]");
        await own.GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await Expect(own).ToContainTextAsync("Remove 'dash/acted/#'?");
        var actions = page.GetByTestId("client-actions");
        await Expect(actions).Not.ToContainTextAsync("delete its session");
        await own.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();
        await Expect(outcome).ToHaveTextAsync("Removed 'dash/acted/#' of 'dash-acted'.");
        await Expect(own).ToHaveCountAsync(0);

        await actions.GetByRole(AriaRole.Button, new() { Name = "Disconnect and delete" }).ClickAsync();
        await Expect(actions).ToContainTextAsync("Disconnect 'dash-acted' and delete its session with its 0 queued messages and 1 subscriptions?");
        await actions.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();
        await Expect(outcome).ToHaveTextAsync("Deleted the session of 'dash-acted'.");
        await Expect(page.GetByTestId("no-session")).ToBeVisibleAsync();
        await subscriber.WaitForExitAsync(Chromium.Timeout);
        Assert.Contains(subscriber.Lines, static line => line.Contains("Received DISCONNECT (152)", StringComparison.Ordinal));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_viewer_opens_an_offline_session_whose_client_id_holds_a_slash_from_the_sessions_list_and_by_its_address()
    {
        var broker = host.Services.GetRequiredService<BrokerRegistry>().Default;
        await SessionFleet.CreateAsync(broker, "dash/detail/", 1, static _ => 3);
        await host.ViewerAsync();
        var page = await OpenAsync(chromium, host, AdminApiHost.ViewerName, AdminApiHost.ViewerPassword, "Sessions", "Sessions and subscriptions");
        await page.GetByLabel("Filter sessions").FillAsync("dash/detail/");

        await page.Locator("[data-testid=sessions] tr[data-client-id=\"dash/detail/000000\"]").GetByRole(AriaRole.Link).ClickAsync();
        await ExpectOfflineFleetSessionAsync(page);
        Assert.EndsWith("/clients/dash%2Fdetail%2F000000?broker=default", page.Url, StringComparison.Ordinal);

        // The same address opened afresh: rendered on the server first, then live.
        await page.GotoAsync("clients/dash%2Fdetail%2F000000");
        await WaitUntilLiveAsync(page);
        await ExpectOfflineFleetSessionAsync(page);
        await Expect(page.Locator("main").GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("add-subscription")).ToHaveCountAsync(0);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_client_without_a_session_is_said_so()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);

        await page.GotoAsync("clients/dash-nobody");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "dash-nobody", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.GetByTestId("no-session")).ToContainTextAsync("Broker 'default' has no session for this client");
        await page.Context.CloseAsync();
    }

    private static async Task ExpectOfflineFleetSessionAsync(IPage page)
    {
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "dash/detail/000000", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.GetByTestId("client-state")).ToContainTextAsync("Offline · broker 'default'");
        await Expect(page.GetByTestId("queued")).ToHaveTextAsync("3");
        await Expect(page.GetByTestId("session-expiry")).ToHaveTextAsync("never");
        await Expect(page.GetByTestId("expires-at")).ToHaveTextAsync("never");
        await Expect(page.GetByTestId("last-disconnect")).ToHaveTextAsync("DISCONNECT");
        await Expect(page.GetByTestId("messages-in")).ToHaveTextAsync("0");
        await Expect(page.GetByTestId("client-subscriptions").Locator("tbody tr")).ToHaveAttributeAsync("data-topic-filter", "fleet/dash/detail/000000");
    }
}
