using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Dashboard.Auth;
using IoTHub.Web.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The dashboard end to end: real Kestrel, real chromium, real mosquitto clients.</summary>
public sealed class DashboardTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task A_wrong_password_shows_an_error_and_stays_on_the_login_page()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await page.GotoAsync("/");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?ReturnUrl=%2F$"));

        await page.Locator("#userName").FillAsync(FirstAdmin.UserName);
        await page.Locator("#password").FillAsync("not-the-password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();

        await Expect(page.GetByTestId("login-error")).ToHaveTextAsync(AdminLogin.WrongCredentialsMessage);
        Assert.Contains("/login", page.Url, StringComparison.Ordinal);
        // The page that answers keeps the user name and never sends the password back.
        await Expect(page.Locator("#userName")).ToHaveValueAsync(FirstAdmin.UserName);
        await Expect(page.Locator("#password")).ToHaveValueAsync(string.Empty);
        Assert.DoesNotContain("not-the-password", await page.ContentAsync(), StringComparison.Ordinal);
        await page.GotoAsync("/clients");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?ReturnUrl=%2Fclients$"));
    }

    /// <summary>After logging in, the page asked for on this site is opened; a ReturnUrl that would leave the site opens the overview.</summary>
    [Theory]
    [InlineData("%2Fretained", "/retained", "Retained messages")]
    [InlineData("%2F%2Fexample.com%2Fx", "/", "Overview")]
    [InlineData("%2F%5Cexample.com%2Fx", "/", "Overview")]
    [InlineData("https%3A%2F%2Fexample.com%2F", "/", "Overview")]
    public async Task Logging_in_opens_the_page_asked_for_only_on_this_site(string returnUrl, string path, string heading)
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await page.GotoAsync($"/login?ReturnUrl={returnUrl}");
        await page.Locator("#userName").FillAsync(FirstAdmin.UserName);
        await page.Locator("#password").FillAsync(AdminApiHost.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = heading, Level = 1 })).ToBeVisibleAsync();
        Assert.Equal(new Uri(new Uri(host.BaseUrl), path), new Uri(page.Url));
    }

    [Fact]
    public async Task A_login_form_sent_without_a_password_asks_for_both_and_logs_nobody_in()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await page.GotoAsync("/login");
        // A client that skips the browser's own check of the required fields (curl, a script) gets the page's answer.
        await page.Locator("#password").EvaluateAsync("input => input.removeAttribute('required')");
        await page.Locator("#userName").FillAsync(FirstAdmin.UserName);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();

        await Expect(page.GetByTestId("login-error")).ToHaveTextAsync("Enter a user name and a password.");
        await page.GotoAsync("/clients");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?ReturnUrl=%2Fclients$"));
    }

    [Fact]
    public async Task A_client_appears_live_and_is_disconnected_from_the_dashboard()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Clients", "Clients");
        var row = ClientRow(page, "dash-live");
        await Expect(row).ToHaveCountAsync(0);

        // Connects after the page is live: the row can only come over the circuit.
        using var subscriber = await SubscribeAsync(host, "dash-live", "dash/live/#");
        await Expect(row).ToBeVisibleAsync();
        await Expect(row).ToContainTextAsync("5.0");
        await Expect(row).ToContainTextAsync(UserOf("dash-live"));

        // The server filters by user name ("user-dash-live" is not part of its id or address) and by client id.
        var user = page.GetByLabel("User", new() { Exact = true });
        await user.FillAsync(UserOf("dash-live"));
        await Expect(row).ToBeVisibleAsync();
        await user.FillAsync("no-such-user");
        await Expect(row).ToHaveCountAsync(0);
        await user.FillAsync(string.Empty);
        await page.GetByLabel("Client id", new() { Exact = true }).FillAsync("dash-liv");
        await Expect(row).ToBeVisibleAsync();
        await page.GetByLabel("Client id match").SelectOptionAsync("Exact");
        await Expect(row).ToHaveCountAsync(0);
        await page.GetByLabel("Client id match").SelectOptionAsync("Contains");
        await Expect(row).ToBeVisibleAsync();

        await row.GetByRole(AriaRole.Button, new() { Name = "Disconnect", Exact = true }).ClickAsync();

        // MQTT 5.0 mosquitto_sub ends when the server sends DISCONNECT (0x98 Administrative action).
        await subscriber.WaitForExitAsync(Chromium.Timeout);
        Assert.Contains(subscriber.Lines, static line => line.Contains("Received DISCONNECT (152)", StringComparison.Ordinal));
        await Expect(row).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Disconnected 'dash-live'.");

        // The same audit log as the API's: who, what, the outcome, from where.
        var entry = await AuditEntryAsync(host, "POST /api/v1/clients/dash-live/disconnect");
        Assert.Equal(FirstAdmin.UserName, entry.GetProperty("actor").GetString());
        Assert.Equal(204, entry.GetProperty("status").GetInt32());
        Assert.Equal("127.0.0.1", entry.GetProperty("remoteAddress").GetString());
        Assert.Equal("dashboard", entry.GetProperty("source").GetString());
    }

    [Fact]
    public async Task A_retained_message_published_from_the_form_is_in_the_topic_browser()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        using var subscriber = await SubscribeAsync(host, "dash-kitchen", "dash/kitchen/#");

        await NavigateAsync(page, "Publish", "Publish a message");
        await page.Locator("#topic").FillAsync("dash/kitchen/temperature");
        await page.Locator("#payload").FillAsync("21.5");
        await page.Locator("#qos").SelectOptionAsync("1");
        await page.Locator("#retain").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();

        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Published to 'dash/kitchen/temperature' on broker 'default': 1 subscriber(s) reached.");
        await subscriber.WaitForLineAsync(static line => line == "21.5", Chromium.Timeout);

        await NavigateAsync(page, "Topics", "Topics");
        var retained = page.Locator("[data-testid=retained][data-topic=\"dash/kitchen/temperature\"]");
        await Expect(retained).ToBeVisibleAsync();
        await Expect(retained).ToContainTextAsync("21.5");
        await Expect(retained).ToContainTextAsync("QoS 1");

        Assert.Equal("dashboard", (await AuditEntryAsync(host, "POST /api/v1/publish")).GetProperty("source").GetString());

        await NavigateAsync(page, "Sessions", "Sessions and subscriptions");
        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Filter sessions" }).FillAsync("dash-kitchen");
        await Expect(page.GetByTestId("sessions").Locator("tbody tr")).ToHaveCountAsync(1);
        await Expect(page.GetByTestId("subscriptions").Locator("tbody tr")).ToContainTextAsync("dash/kitchen/#");
    }

    [Fact]
    public async Task The_status_page_shows_the_brokers_and_the_listeners_with_their_ports()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);

        await NavigateAsync(page, "Status", "Brokers and listeners");
        await Expect(page.GetByTestId("brokers")).ToContainTextAsync("Running");
        var port = host.MqttEndpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var mqtt = page.GetByTestId("listeners").Locator("tbody tr", new() { HasText = port });
        await Expect(mqtt).ToContainTextAsync("mqtt");
        await Expect(mqtt).ToContainTextAsync("yes");

        // Without clustering nothing more: no cluster nodes (ClusterNodesViewTests shows them on a clustered host).
        await Expect(page.GetByTestId("cluster-nodes")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_viewer_sees_clients_without_a_button_to_disconnect_them()
    {
        await host.ViewerAsync();
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, AdminApiHost.ViewerName, AdminApiHost.ViewerPassword);
        await Expect(page.GetByTestId("role")).ToHaveTextAsync(AdminRoles.Viewer);
        using var subscriber = await SubscribeAsync(host, "dash-watched", "dash/watched/#");

        await NavigateAsync(page, "Clients", "Clients");
        await Expect(ClientRow(page, "dash-watched")).ToBeVisibleAsync();
        await Expect(ClientRow(page, "dash-watched").GetByRole(AriaRole.Button)).ToHaveCountAsync(0);

        await NavigateAsync(page, "Publish", "Publish a message");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Publish" })).ToBeDisabledAsync();
    }

    [Fact]
    public async Task An_open_page_of_a_deleted_account_goes_back_to_the_login_page_by_itself()
    {
        var admin = await host.AdminAsync();
        var created = await admin.PostAsJsonAsync("/api/v1/accounts", new { userName = "leaver", password = "leaver-password", role = AdminRoles.Viewer });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, "leaver", "leaver-password");

        var deleted = await admin.DeleteAsync("/api/v1/accounts/leaver");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        // No click: the circuit checks the account again within its revalidation interval.
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Log in" }))
            .ToBeVisibleAsync(new() { Timeout = (float)(AccountRevalidation.Interval + Chromium.Timeout).TotalMilliseconds });
    }

    [Fact]
    public async Task Logging_out_ends_the_cookie_for_good_and_the_accounts_tokens()
    {
        // Its own account: a logout ends every login of the account, the host's admin token included.
        var created = await (await host.AdminAsync()).PostAsJsonAsync("/api/v1/accounts", new { userName = "signer", password = "signer-password", role = AdminRoles.Viewer });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var api = host.WithToken(await host.LoginAsync("signer", "signer-password"));
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, "signer", "signer-password");
        var cookie = (await page.Context.CookiesAsync()).Single(static c => c.Name == DashboardAuthentication.CookieName);
        using var replay = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = host.Client.BaseAddress };
        replay.DefaultRequestHeaders.Add("Cookie", $"{cookie.Name}={cookie.Value}");
        Assert.Equal(HttpStatusCode.OK, (await replay.GetAsync("/status")).StatusCode);

        await page.GetByRole(AriaRole.Button, new() { Name = "Log out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Log in" })).ToBeVisibleAsync();
        await page.GotoAsync("/status");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login\\?ReturnUrl=%2Fstatus$"));

        // A copy of the cookie kept from before is refused as well, and so is the account's token.
        var replayed = await replay.GetAsync("/status");
        Assert.Equal(HttpStatusCode.Redirect, replayed.StatusCode);
        Assert.Contains("/login?ReturnUrl=%2Fstatus", replayed.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync("/api/v1/brokers")).StatusCode);
    }

    [Fact]
    public async Task An_unknown_page_is_a_page_of_the_dashboard_that_says_it_is_not_found()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);

        var response = await page.GotoAsync("/no-such-page");

        Assert.Equal(404, response!.Status);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Page not found", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Main)).ToContainTextAsync("/no-such-page");
        await WaitUntilLiveAsync(page);
        await NavigateAsync(page, "Status", "Brokers and listeners");
    }

    [Fact]
    public async Task An_invalid_topic_filter_takes_the_previous_result_away()
    {
        using (var publisher = DashboardPage.Mqtt(host, "mosquitto_pub", "-i", "dash-filter-pub", "-q", "1", "-r", "-t", "dash/filter/level", "-m", "3"))
        {
            await publisher.WaitForSuccessAsync(Chromium.Timeout);
        }

        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Topics", "Topics");
        var filter = page.GetByLabel("Topic filter");
        var retained = page.Locator("[data-testid=retained][data-topic=\"dash/filter/level\"]");
        await filter.FillAsync("dash/filter/#");
        await Expect(retained).ToBeVisibleAsync();

        await filter.FillAsync("dash/#/level");

        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("'dash/#/level' is not a valid MQTT topic filter.");
        await Expect(retained).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Main).Locator("section.panel")).ToHaveCountAsync(0);

        await filter.FillAsync("dash/+/level");
        await Expect(retained).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Session_expiry_is_shown_in_days_hours_and_minutes_with_the_seconds_in_its_title()
    {
        using var week = DashboardPage.Mqtt(host, "mosquitto_sub", "-i", "dash-expiry-week", "-c", "-x", "604800", "-t", "dash/expiry/#");
        using var longer = DashboardPage.Mqtt(host, "mosquitto_sub", "-i", "dash-expiry-90min", "-c", "-x", "5400", "-t", "dash/expiry/#");
        await week.WaitForLineAsync("Subscribed (mid: ", Chromium.Timeout);
        await longer.WaitForLineAsync("Subscribed (mid: ", Chromium.Timeout);
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);

        await NavigateAsync(page, "Sessions", "Sessions and subscriptions");

        var sessions = page.GetByTestId("sessions");
        await Expect(sessions.Locator("tr", new() { HasText = "dash-expiry-week" }).Locator("[title=\"604800 s\"]")).ToHaveTextAsync("7 d");
        await Expect(sessions.Locator("tr", new() { HasText = "dash-expiry-90min" }).Locator("[title=\"5400 s\"]")).ToHaveTextAsync("1 h 30 min");
        await Expect(sessions).Not.ToContainTextAsync("604800");
    }

    [Fact]
    public async Task A_long_client_id_leaves_the_actions_of_its_row_on_a_1440_px_screen()
    {
        var clientId = "plant-7/" + string.Concat(Enumerable.Repeat("conveyor-belt-vibration-sensor-", 6)) + "42";
        var page = await chromium.NewPageAsync(host.BaseUrl, width: 1440, height: 900);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        using var subscriber = await SubscribeAsync(host, clientId, "dash/long/#");

        await NavigateAsync(page, "Clients", "Clients");

        var row = ClientRow(page, clientId);
        foreach (var action in new[] { "Disconnect", "Disconnect and delete" })
        {
            var button = row.GetByRole(AriaRole.Button, new() { Name = action, Exact = true });
            await Expect(button).ToBeVisibleAsync();
            var box = await button.BoundingBoxAsync();
            Assert.True(box!.X + box.Width <= 1440, $"the {action} button ends at {box.X + box.Width} px, off a 1440 px screen");
        }

        Assert.True(await page.GetByTestId("clients").EvaluateAsync<bool>("table => table.parentElement.scrollWidth <= table.parentElement.clientWidth"),
            "the clients table scrolls sideways");
        // The whole id is still there to read.
        Assert.Equal(clientId, await row.Locator("td").First.InnerTextAsync());
    }

    // A host of its own, stopped in the middle of the test.
    [Fact]
    public async Task When_the_server_stops_the_page_says_it_is_reconnecting_in_its_own_style()
    {
        var stopping = new DashboardHost();
        var stopped = false;
        try
        {
            var page = await chromium.NewPageAsync(stopping.BaseUrl);
            var violations = await CspViolations.WatchAsync(page);
            await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
            await Expect(page.GetByTestId("reconnecting")).ToBeHiddenAsync();
            await Expect(page.GetByTestId("disconnected")).ToBeHiddenAsync();

            stopping.Dispose();
            stopped = true;

            // The badge no longer says "Live"; the dashboard's own notice (not the framework's dialog) says what goes on.
            await Expect(page.GetByTestId("reconnecting")).ToBeVisibleAsync();
            await Expect(page.GetByTestId("live")).ToBeHiddenAsync();
            var notice = page.Locator("#components-reconnect-modal");
            await Expect(notice).ToBeVisibleAsync();
            await Expect(notice).ToContainTextAsync("The connection to the server was lost. Reconnecting (attempt", new() { UseInnerText = true });
            await Expect(notice).Not.ToContainTextAsync("Reload", new() { UseInnerText = true });
            await Expect(page.GetByText("Rejoin")).ToHaveCountAsync(0);
            await Expect(page.Locator(".components-reconnect-overlay")).ToHaveCountAsync(0);
            Assert.True(violations.IsEmpty, violations.ToString());
        }
        finally
        {
            if (!stopped)
            {
                stopping.Dispose();
            }
        }
    }

    /// <summary>The newest audit log entry for <paramref name="action"/>, read through the API.</summary>
}
