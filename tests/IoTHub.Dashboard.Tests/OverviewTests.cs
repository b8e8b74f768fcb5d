using System.Globalization;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Dashboard.Live;
using IoTHub.Web.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>
/// The overview with live clients and traffic. With IOTHUB_SCREENSHOT_DIR set, it also saves the page
/// at 1280 px as dashboard.png there (docs/images/dashboard.png in the repository comes from this).
/// </summary>
public sealed class OverviewTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
    public const string ScreenshotDirectoryVariable = "IOTHUB_SCREENSHOT_DIR";

    private static readonly string[] Sensors = ["hall-thermostat", "kitchen-sensor", "garage-door", "solar-inverter"];
    private static readonly int[] Rounds = [40, 120, 90, 200, 160, 60, 180, 110, 140];

    [Fact]
    public async Task The_overview_follows_connections_and_message_rates_live()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        var feed = host.Services.GetRequiredService<DashboardFeed>();

        List<ChildProcess> subscribers = [];
        try
        {
            foreach (var sensor in Sensors)
            {
                subscribers.Add(await SubscribeAsync(host, sensor, "home/#"));
            }

            await Expect(page.GetByTestId("connected-count")).ToHaveTextAsync(Sensors.Length.ToString(CultureInfo.InvariantCulture));
            await Expect(page.GetByTestId("activity")).ToContainTextAsync("solar-inverter");

            // Traffic in rounds of different sizes, each one seen by a sample of its own, so the rate chart has a shape.
            foreach (var messages in Rounds)
            {
                var sampled = feed.Samples.Count;
                await PublishAsync(messages);
                await Poll.UntilAsync(() => feed.Samples.Count > sampled || feed.Samples.Count == DashboardFeed.SampleCount, Chromium.Timeout);
            }

            await Poll.UntilAsync(() => feed.Samples.Any(static s => s.DeliveredPerSecond > 0), Chromium.Timeout);
            var busy = feed.Samples.Count(static s => s.ReceivedPerSecond > 0);
            Assert.True(busy >= 4, "samples: " + string.Join(" | ", feed.Samples));
            var lines = page.Locator("svg polyline");
            await Expect(lines).ToHaveCountAsync(3);
            Assert.Contains(feed.Samples, static s => s.Connections == Sensors.Length);

            if (Environment.GetEnvironmentVariable(ScreenshotDirectoryVariable) is { Length: > 0 } directory)
            {
                Directory.CreateDirectory(directory);
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(directory, "dashboard.png"), FullPage = true });
            }
        }
        finally
        {
            foreach (var subscriber in subscribers)
            {
                subscriber.Dispose();
            }
        }
    }

    [Fact]
    public async Task The_overview_fits_a_phone()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl, width: 390, height: 844);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);

        // Nothing wider than the screen: the sidebar turns into a row of tabs, cards and charts stack.
        var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
        Assert.True(overflow <= 0, $"the page is {overflow} px wider than a 390 px screen");
        await Expect(page.GetByRole(AriaRole.Navigation).GetByRole(AriaRole.Link, new() { Name = "Clients" })).ToBeVisibleAsync();
    }

    /// <summary>Publishes <paramref name="count"/> messages with one mosquitto_pub run (-l: a message per stdin line) and waits for it to end.</summary>
    private async Task PublishAsync(int count)
    {
        var lines = string.Concat(Enumerable.Range(0, count).Select(static i => (20 + (i % 10 / 10.0)).ToString("0.0", CultureInfo.InvariantCulture) + "\n"));
        using var publisher = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-h", host.MqttEndpoint.Address.ToString(),
            "-p", host.MqttEndpoint.Port.ToString(CultureInfo.InvariantCulture), "-V", "mqttv5", "-i", "living-room-meter", "-t", "home/living-room/power", "-l"], lines);
        await publisher.WaitForSuccessAsync(Chromium.Timeout);
    }
}
