using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>An open page whose server stops: a host of its own, stopped in the middle of the test.</summary>
public sealed class ReconnectTests(Chromium chromium) : IClassFixture<Chromium>
{
    [Fact]
    public async Task When_the_server_stops_the_page_says_it_is_reconnecting_in_its_own_style()
    {
        var host = new DashboardHost();
        var stopped = false;
        try
        {
            var page = await chromium.NewPageAsync(host.BaseUrl);
            var violations = await CspViolations.WatchAsync(page);
            await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
            await Expect(page.GetByTestId("reconnecting")).ToBeHiddenAsync();
            await Expect(page.GetByTestId("disconnected")).ToBeHiddenAsync();

            host.Dispose();
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
                host.Dispose();
            }
        }
    }
}
