using System.Globalization;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Dashboard.Live;
using IoTHub.Web.Metrics.History;
using IoTHub.Web.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>
/// The overview with live clients and traffic; the page at 1280 px is saved as dashboard.png (<see cref="Screenshots"/>:
/// docs/images/dashboard.png in the repository, the README's, comes from this). The range picker charts the metrics history.
/// </summary>
public sealed class OverviewTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
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

            await Screenshots.SaveAsync(page, "dashboard.png", fullPage: true);
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

        // Every page is a tap away: no link of the navigation is cut off or pushed past the edge of the screen.
        var links = await page.GetByRole(AriaRole.Navigation).GetByRole(AriaRole.Link).AllAsync();
        Assert.NotEmpty(links);
        foreach (var link in links)
        {
            var box = await link.BoundingBoxAsync();
            Assert.True(box is { X: >= 0 } && box.X + box.Width <= 390, $"'{await link.InnerTextAsync()}' spans {box?.X} to {box?.X + box?.Width} px of a 390 px screen");
            Assert.True(await link.EvaluateAsync<bool>("a => a.scrollWidth <= a.clientWidth"), $"'{await link.InnerTextAsync()}' is cut off");
        }

        await NavigateAsync(page, "Status", "Brokers and listeners");
    }

    [Fact]
    public async Task The_activity_feed_folds_a_burst_of_short_lived_clients_shows_reasons_and_can_be_filtered_and_paused()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        var activity = page.GetByTestId("activity");
        using var stays = await SubscribeAsync(host, "feed-stays", "feed/#");
        await Expect(activity.Locator("li[data-client-id=feed-stays]")).ToContainTextAsync("connected from 127.0.0.1:");

        // A burst of clients that each connect, publish and leave: one line, not five scrolling past.
        for (var i = 0; i < 5; i++)
        {
            await PublishOnceAsync("feed-burst-" + i);
        }

        // (Clients of the class's other tests may make folds of their own.)
        var fold = activity.GetByTestId("fold").Filter(new() { HasText = "feed-burst-0" });
        await Expect(fold.Locator("summary")).ToContainTextAsync("5 short-lived clients");
        var visit = fold.Locator("li[data-client-id=feed-burst-0]");
        await Expect(visit).ToBeHiddenAsync();
        await fold.Locator("summary").ClickAsync();
        await Expect(visit).ToBeVisibleAsync();
        await Expect(visit).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"connected from 127\.0\.0\.1:\d+ and left after \d+\.\d s: DISCONNECT"));

        var filter = page.GetByLabel("Filter activity");
        await filter.FillAsync("feed-stays");
        await Expect(activity.Locator("li[data-client-id=feed-stays]")).ToBeVisibleAsync();
        await Expect(fold).ToHaveCountAsync(0);
        await filter.FillAsync(string.Empty);
        await Expect(fold).ToHaveCountAsync(1);

        // Paused, the feed holds still and counts what it holds back.
        await page.GetByRole(AriaRole.Button, new() { Name = "Pause" }).ClickAsync();
        await PublishOnceAsync("feed-while-paused");
        await Expect(page.GetByTestId("activity-paused")).ToContainTextAsync("Paused: 2 new events");
        await Expect(activity.Locator("li[data-client-id=feed-while-paused]")).ToHaveCountAsync(0);
        await filter.FillAsync("feed-stays"); // the held list still filters
        await Expect(fold).ToHaveCountAsync(0);
        await Expect(activity.Locator("li[data-client-id=feed-stays]")).ToBeVisibleAsync();
        await filter.FillAsync(string.Empty);
        await page.GetByRole(AriaRole.Button, new() { Name = "Resume" }).ClickAsync();
        await Expect(page.GetByTestId("activity-paused")).ToHaveCountAsync(0);
        await Expect(activity.Locator("li[data-client-id=feed-while-paused]")).ToContainTextAsync("DISCONNECT");
    }

    [Fact]
    public async Task The_message_counts_say_they_count_since_the_start()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);

        await Expect(page.Locator(".card", new() { HasText = "Messages in" }).Locator(".card-label")).ToHaveTextAsync("Messages in since start");
        await Expect(page.Locator(".card", new() { HasText = "Messages out" }).Locator(".card-label")).ToHaveTextAsync("Messages out since start");
    }

    // The range picker: the charts read the metrics history (samples taken by the test, not waited for) and go back to live.
    [Fact]
    public async Task The_range_picker_charts_the_metrics_history()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        var history = host.Services.GetRequiredService<MetricsHistory>();
        var connections = page.Locator("figure.chart", new() { HasText = "Connections" });
        var picker = page.GetByTestId("chart-range");

        await Expect(picker.GetByRole(AriaRole.Button, new() { Name = "Live" })).ToHaveAttributeAsync("aria-pressed", "true");
        await Expect(connections.Locator(".chart-axis")).ToContainTextAsync("60 s ago");

        using var first = await SubscribeAsync(host, "history-meter-1", "home/#");
        using var second = await SubscribeAsync(host, "history-meter-2", "home/#");
        await Expect(page.GetByTestId("connected-count")).ToHaveTextAsync("2");
        host.SampleNow();

        await picker.GetByRole(AriaRole.Button, new() { Name = "15 min" }).ClickAsync();
        await Expect(picker.GetByRole(AriaRole.Button, new() { Name = "15 min" })).ToHaveAttributeAsync("aria-pressed", "true");
        await Expect(picker.GetByRole(AriaRole.Button, new() { Name = "Live" })).ToHaveAttributeAsync("aria-pressed", "false");
        await Expect(connections.Locator(".chart-axis")).ToContainTextAsync("15 min ago");
        await Expect(connections.Locator(".legend")).ToContainTextAsync("connections 2");
        // A point per history sample (live would have one per second).
        await Poll.UntilAsync(async () => await PointsAsync(connections) == Samples(), Chromium.Timeout, "the chart does not have a point per history sample");

        // The chart follows new samples while it is shown.
        first.Dispose(); // killed: its connection ends
        await Expect(page.GetByTestId("connected-count")).ToHaveTextAsync("1");
        host.SampleNow();
        await Expect(connections.Locator(".legend")).ToContainTextAsync("connections 1");

        await picker.GetByRole(AriaRole.Button, new() { Name = "24 h" }).ClickAsync();
        await Expect(connections.Locator(".chart-axis")).ToContainTextAsync("24 h ago");
        // 24 h: the peak of each 24 samples (4 min) is a point, so 360 points span the day.
        await Poll.UntilAsync(async () => await PointsAsync(connections) == (Samples() + 23) / 24, Chromium.Timeout, "24 h: not a point per 24 samples");

        await picker.GetByRole(AriaRole.Button, new() { Name = "Live" }).ClickAsync();
        await Expect(connections.Locator(".chart-axis")).ToContainTextAsync("60 s ago");

        int Samples() => history.Read([HistorySeries.Connections], HistoryRange.FifteenMinutes, DateTimeOffset.UtcNow).Times.Count;
    }

    private static Task<int> PointsAsync(ILocator chart) =>
        chart.Locator("polyline").EvaluateAsync<int>("line => line.getAttribute('points').trim().split(' ').filter(p => p).length");

    /// <summary>One mosquitto_pub run (MQTT 5.0): a client that connects, publishes and leaves with DISCONNECT.</summary>
    private async Task PublishOnceAsync(string clientId)
    {
        using var publisher = DashboardPage.Mqtt(host, "mosquitto_pub", "-i", clientId, "-t", "feed/burst", "-m", "1");
        await publisher.WaitForSuccessAsync(Chromium.Timeout);
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
