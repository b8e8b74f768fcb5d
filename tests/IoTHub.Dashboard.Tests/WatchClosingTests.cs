using IoTHub.Broker;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Extensions.DependencyInjection;
using static IoTHub.Dashboard.Tests.DashboardPage;

namespace IoTHub.Dashboard.Tests;

/// <summary>A watch ends with its page (a host of its own, so no other test's page holds a watch).</summary>
public sealed class WatchClosingTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task Leaving_the_page_or_closing_the_browser_tab_removes_its_watch()
    {
        var broker = host.Services.GetRequiredService<Web.Mqtt.BrokerRegistry>().Default;
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);

        await WatchPageTests.WatchAsync(page, "dash/leaving/#");
        Assert.Equal(1, broker.Router.Watches.Count);
        await NavigateAsync(page, "Topics", "Topics");
        await Poll.UntilAsync(() => broker.Router.Watches.Count == 0, Chromium.Timeout);

        await WatchPageTests.WatchAsync(page, "dash/closing/#");
        Assert.Equal(1, broker.Router.Watches.Count);
        await page.CloseAsync();
        await Poll.UntilAsync(() => broker.Router.Watches.Count == 0, Chromium.Timeout);
    }

    /// <summary>
    /// A tab that goes without telling the server (its unload beacon never sent, as when the browser is killed or too busy)
    /// leaves a circuit the framework keeps for minutes: the watch ends when the connection drops, not with the circuit.
    /// </summary>
    [Fact]
    public async Task A_tab_gone_without_its_unload_beacon_removes_its_watch_when_its_connection_drops()
    {
        var broker = host.Services.GetRequiredService<Web.Mqtt.BrokerRegistry>().Default;
        await Poll.UntilAsync(() => broker.Router.Watches.Count == 0, Chromium.Timeout);
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await WatchPageTests.WatchAsync(page, "dash/vanishing/#");
        Assert.Equal(1, broker.Router.Watches.Count);

        await page.EvaluateAsync("() => { navigator.sendBeacon = () => true; }");
        await page.CloseAsync();

        await Poll.UntilAsync(() => broker.Router.Watches.Count == 0, Chromium.Timeout);
    }
}
