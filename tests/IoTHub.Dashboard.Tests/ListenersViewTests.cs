using System.Globalization;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The status page's MQTT listeners, on a host that serves HTTPS: scheme, URL, certificate expiry, live connection counts.</summary>
public sealed class ListenersViewTests(HttpsDashboardHost host, Chromium chromium) : IClassFixture<HttpsDashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task The_status_page_lists_the_mqtt_listeners_with_certificate_expiry_and_live_connection_counts()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Status", "Brokers and listeners");

        var http = page.Locator($"tr[data-listener=\"wss://127.0.0.1:{host.BaseAddress.Port}/mqtt\"]");
        await Expect(http).ToContainTextAsync("wss");
        await Expect(http.GetByTestId("expiry")).ToContainTextAsync("CN=localhost: " + DateTimeOffset.UtcNow.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        var tcp = page.Locator($"tr[data-listener=\"tcp://{host.MqttEndpoint}\"]");
        await Expect(tcp.GetByTestId("connections")).ToHaveTextAsync("0");

        using var subscriber = await SubscribeAsync(host, "listener-count", "count/#");

        await Expect(tcp.GetByTestId("connections")).ToHaveTextAsync("1");
    }
}
