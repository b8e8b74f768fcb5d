using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The overview's alarms, raised and cleared live by a broker with room for 2 connections.</summary>
public sealed class OverviewAlarmsTests(OverviewAlarmsTests.SmallBrokerHost host, Chromium chromium)
    : IClassFixture<OverviewAlarmsTests.SmallBrokerHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task The_overview_shows_an_alarm_while_its_condition_lasts()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await Expect(page.GetByTestId("no-alarms")).ToBeVisibleAsync();

        using var first = await SubscribeAsync(host, "alarm-meter-1", "home/#");
        using var second = await SubscribeAsync(host, "alarm-meter-2", "home/#");
        await Expect(page.GetByTestId("connected-count")).ToHaveTextAsync("2");
        host.SampleNow();

        var alarm = page.Locator("[data-alarm=connections_high]");
        await Expect(alarm).ToContainTextAsync("2 connections of at most 2 (Mqtt:MaximumConnections).");
        await Expect(alarm).ToContainTextAsync("default");

        second.Dispose(); // killed: its connection ends
        await Expect(page.GetByTestId("connected-count")).ToHaveTextAsync("1");
        host.SampleNow();
        await Expect(page.GetByTestId("no-alarms")).ToBeVisibleAsync();
    }

    /// <summary>The dashboard's host with Mqtt:MaximumConnections 2.</summary>
    public sealed class SmallBrokerHost() : DashboardHost(new Dictionary<string, string> { ["Mqtt:MaximumConnections"] = "2" });
}
