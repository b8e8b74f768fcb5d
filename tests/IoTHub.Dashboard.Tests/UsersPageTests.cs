using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The dashboard's host with the Database authenticator: the users of the Users page are the ones MQTT clients log in with.</summary>
public sealed class DatabaseUsersDashboardHost() : DashboardHost(new Dictionary<string, string> { ["Security:Authenticators:0:Type"] = "Database" });

/// <summary>The Users page end to end (issue 15): real chromium, real mosquitto clients.</summary>
public sealed class UsersPageTests(DatabaseUsersDashboardHost host, Chromium chromium) : IClassFixture<DatabaseUsersDashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task A_user_added_in_the_page_connects_with_mosquitto_and_loses_its_connection_when_deleted()
    {
        var (page, row) = await AddUserAsync("dash-device", "device-password");
        await Expect(row).ToContainTextAsync("enabled");

        // A real client logs in with what was typed, and with nothing else.
        using var subscriber = Mqtt("mosquitto_sub", "-i", "dash-device-sub", "-u", "dash-device", "-P", "device-password", "-t", "dash/users/#");
        await subscriber.WaitForLineAsync("Subscribed (mid: ", Chromium.Timeout);
        using (var wrong = Mqtt("mosquitto_pub", "-i", "dash-device-pub", "-u", "dash-device", "-P", "not-the-password", "-t", "dash/users/x", "-m", "x"))
        {
            Assert.NotEqual(0, await wrong.WaitForExitAsync(Chromium.Timeout));
            Assert.Contains(wrong.Lines, static line => line.Contains("received CONNACK (134)", StringComparison.Ordinal));
        }

        await page.GetByLabel("Search users").FillAsync("no-such-user");
        await Expect(row).ToHaveCountAsync(0);
        await page.GetByLabel("Search users").FillAsync("DASH-DEV");
        await row.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" }).ClickAsync();

        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Deleted 'dash-device'; its clients were disconnected.");
        await Expect(row).ToHaveCountAsync(0);
        await subscriber.WaitForExitAsync(Chromium.Timeout);
        Assert.Contains(subscriber.Lines, static line => line.Contains("Received DISCONNECT (135)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_password_reset_and_a_disable_in_the_page_take_effect_at_once_and_a_viewer_changes_nothing()
    {
        var (page, row) = await AddUserAsync("dash-reset", "first-password");

        await row.GetByRole(AriaRole.Button, new() { Name = "Reset password" }).ClickAsync();
        await row.GetByLabel("New password for dash-reset").FillAsync("second-password");
        await row.GetByRole(AriaRole.Button, new() { Name = "Save password" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Set a new password for 'dash-reset'.");
        await PublishAsync("dash-reset", "second-password", expectAccepted: true);
        await PublishAsync("dash-reset", "first-password", expectAccepted: false);

        await row.GetByRole(AriaRole.Button, new() { Name = "Disable" }).ClickAsync();
        await Expect(row).ToContainTextAsync("disabled");
        await PublishAsync("dash-reset", "second-password", expectAccepted: false);

        await host.ViewerAsync();
        var viewerPage = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(viewerPage, AdminApiHost.ViewerName, AdminApiHost.ViewerPassword);
        await NavigateAsync(viewerPage, "Users", "MQTT users");
        var seen = viewerPage.Locator("tr[data-user=\"dash-reset\"]");
        await Expect(seen.GetByRole(AriaRole.Button, new() { Name = "Enable" })).ToBeDisabledAsync();
        await Expect(viewerPage.GetByRole(AriaRole.Button, new() { Name = "Add user" })).ToBeDisabledAsync();
    }

    [Fact]
    public async Task A_name_taken_and_a_short_password_are_refused_by_the_page_with_the_reason()
    {
        var (page, row) = await AddUserAsync("dash-taken", "taken-password");

        await page.Locator("#new-user-name").FillAsync("dash-taken");
        await page.Locator("#new-password").FillAsync("other-password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add user" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("A user named 'dash-taken' exists.");

        await page.Locator("#new-user-name").FillAsync("dash-short");
        await page.Locator("#new-password").FillAsync("x");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add user" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToContainTextAsync("password must be at least");
        await Expect(page.Locator("tr[data-user=\"dash-short\"]")).ToHaveCountAsync(0);

        await row.GetByRole(AriaRole.Button, new() { Name = "Reset password" }).ClickAsync();
        await row.GetByLabel("New password for dash-taken").FillAsync("x");
        await row.GetByRole(AriaRole.Button, new() { Name = "Save password" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToContainTextAsync("password must be at least");
        await PublishAsync("dash-taken", "taken-password", expectAccepted: true);
    }

    /// <summary>Logs in as the admin, adds a user through the Users page's form; the page and the user's row.</summary>
    private async Task<(IPage Page, ILocator Row)> AddUserAsync(string userName, string password)
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Users", "MQTT users");
        await page.Locator("#new-user-name").FillAsync(userName);
        await page.Locator("#new-password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Add user" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync($"Added user '{userName}'.");
        return (page, page.Locator($"tr[data-user=\"{userName}\"]"));
    }

    private async Task PublishAsync(string userName, string password, bool expectAccepted)
    {
        using var publisher = Mqtt("mosquitto_pub", "-i", userName + "-pub", "-u", userName, "-P", password, "-t", "dash/users/reset", "-m", "x");
        Assert.Equal(expectAccepted, await publisher.WaitForExitAsync(Chromium.Timeout) == 0);
    }

    private ChildProcess Mqtt(string program, params string[] arguments) => DashboardPage.Mqtt(host, program, arguments);
}
