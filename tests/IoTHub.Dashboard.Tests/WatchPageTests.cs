using System.Globalization;
using System.Text.RegularExpressions;
using IoTHub.Broker;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The Watch page (issue 23): a topic watched from the browser, fed by real mosquitto_pub processes.</summary>
public sealed partial class WatchPageTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
    private MqttBroker Broker => host.Services.GetRequiredService<Web.Mqtt.BrokerRegistry>().Default;

    [Fact]
    public async Task A_viewer_watches_a_message_from_mosquitto_pub_arrive_with_its_mqtt5_properties()
    {
        await host.ViewerAsync();
        await NoWatchLeftAsync();
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, AdminApiHost.ViewerName, AdminApiHost.ViewerPassword);
        var watching = await WatchAsync(page, "dash/watch/+/props");

        using (var other = DashboardPage.Mqtt(host, "mosquitto_pub", "-i", "dash-other", "-t", "dash/watch/a/other", "-m", "not watched"))
        {
            await other.WaitForSuccessAsync();
        }

        using (var publisher = DashboardPage.Mqtt(host, "mosquitto_pub", "-i", "dash-props", "-t", "dash/watch/a/props", "-m", "21.5", "-q", "1",
            "-D", "publish", "content-type", "text/plain",
            "-D", "publish", "response-topic", "dash/watch/replies",
            "-D", "publish", "correlation-data", "request-42",
            "-D", "publish", "message-expiry-interval", "120",
            "-D", "publish", "payload-format-indicator", "1",
            "-D", "publish", "user-property", "site", "lab",
            "-D", "publish", "user-property", "site", "roof"))
        {
            await publisher.WaitForSuccessAsync();
        }

        var row = page.Locator("tr[data-topic=\"dash/watch/a/props\"]");
        await Expect(row).ToBeVisibleAsync();
        await Expect(row).ToContainTextAsync("21.5");
        await Expect(row.Locator("td").Nth(2)).ToHaveTextAsync("1");
        await Expect(row.Locator("dl")).ToHaveTextAsync(
            "publisherdash-props" + "content typetext/plain" + "response topicdash/watch/replies" + "correlation datarequest-42"
            + "message expiry120 s" + "payload format1 (UTF-8)" + "user propertysite = lab" + "user propertysite = roof");

        // A binary payload is shown in base64, with its size.
        var file = Path.GetTempFileName();
        await File.WriteAllBytesAsync(file, [0xFF, 0xFE, 0x00, 0x01]);
        using (var binary = DashboardPage.Mqtt(host, "mosquitto_pub", "-i", "dash-binary", "-t", "dash/watch/b/props", "-f", file, "-r",
            "-D", "publish", "payload-format-indicator", "0"))
        {
            await binary.WaitForSuccessAsync();
        }

        File.Delete(file);
        var binaryRow = page.Locator("tr[data-topic=\"dash/watch/b/props\"]");
        await Expect(binaryRow).ToContainTextAsync("base64: //4AAQ==");
        await Expect(binaryRow).ToContainTextAsync("4 B");
        await Expect(binaryRow).ToContainTextAsync("retained");
        await Expect(binaryRow.Locator("dl")).ToHaveTextAsync("publisherdash-binary" + "payload format0 (bytes)");

        // A long payload is cut for the page, its size shown whole.
        using (var longer = DashboardPage.Mqtt(host, "mosquitto_pub", "-i", "dash-long", "-t", "dash/watch/c/props", "-m", new string('x', 3_000)))
        {
            await longer.WaitForSuccessAsync();
        }

        var longRow = page.Locator("tr[data-topic=\"dash/watch/c/props\"]");
        await Expect(longRow.Locator("code")).ToHaveTextAsync(new string('x', 2_000) + "…");
        await Expect(longRow).ToContainTextAsync("3000 B");

        // Newest first; what the filter does not match never shows.
        await Expect(page.GetByTestId("watched").Locator("tbody tr")).ToHaveCountAsync(3);
        await Expect(page.GetByTestId("watched").Locator("tbody tr").First).ToHaveAttributeAsync("data-topic", "dash/watch/c/props");
        await Expect(watching.GetByTestId("watch-received")).ToHaveTextAsync("3");
        await Expect(watching.GetByTestId("watch-skipped")).ToHaveTextAsync("0");

        // Watching is no session and no subscription: the broker's lists do not show it.
        Assert.DoesNotContain(Broker.GetSubscriptions()!, static s => s.TopicFilter == "dash/watch/+/props");
        Assert.Equal(1, Broker.Router.Watches.Count);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_busy_filter_renders_at_most_four_times_a_second_keeps_the_page_responsive_and_counts_what_it_skipped()
    {
        await NoWatchLeftAsync();
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        var watching = await WatchAsync(page, "dash/busy/#");

        // Each render of the circuit is one batch of DOM changes: one MutationObserver callback each.
        await page.EvaluateAsync("""
            () => {
                window.renders = [];
                new MutationObserver(() => window.renders.push(performance.now()))
                    .observe(document.querySelector('main'), { childList: true, subtree: true, characterData: true });
            }
            """);

        // A few thousand messages a second for several seconds (without -d: no line per message).
        using var flood = ChildProcess.Start("/usr/bin/mosquitto_pub", ["-h", host.MqttEndpoint.Address.ToString(),
            "-p", host.MqttEndpoint.Port.ToString(CultureInfo.InvariantCulture), "-V", "mqttv5", "-i", "dash-flood", "-t", "dash/busy/line-1",
            "-m", "tick", "--repeat", "200000", "--repeat-delay", "0.0001"]);

        await Expect(watching.GetByTestId("watch-skipped")).ToHaveTextAsync(NonZero());
        await Expect(page.GetByTestId("watched").Locator("tbody tr")).ToHaveCountAsync(100);
        var rendersPerSecond = 0.0;
        await Poll.UntilAsync(async () =>
        {
            var renders = await page.EvaluateAsync<double[]>("() => window.renders");
            rendersPerSecond = renders.Length < 12 ? 0 : (renders.Length - 1) * 1000 / (renders[^1] - renders[0]);
            return renders.Length >= 12;
        }, Chromium.Timeout);
        Assert.InRange(rendersPerSecond, 0.5, 5);

        // While the flood goes on, a click is answered at once.
        var received = long.Parse(await watching.GetByTestId("watch-received").TextContentAsync() ?? "", CultureInfo.InvariantCulture);
        Assert.True(received > 1_000, $"only {received} messages arrived");
        await page.GetByRole(AriaRole.Button, new() { Name = "Stop", Exact = true }).ClickAsync();
        await Expect(watching).ToContainTextAsync("Stopped watching", new() { Timeout = 5_000 });
        Assert.Equal(0, Broker.Router.Watches.Count);
        Assert.False(flood.HasExited, "the flood ended before the page was checked under it");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_filter_that_cannot_be_watched_is_refused_in_the_page()
    {
        await NoWatchLeftAsync();
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Watch", "Watch a topic");
        await page.Locator("#watch-filter").FillAsync("$share/group/dash/#");
        await page.GetByRole(AriaRole.Button, new() { Name = "Watch", Exact = true }).ClickAsync();

        await Expect(page.GetByTestId("watch-error")).ToHaveTextAsync(
            "'$share/group/dash/#' cannot be watched: it is not a topic filter a client could subscribe to, or it is a shared subscription's.");
        await Expect(page.GetByTestId("watched")).ToHaveCountAsync(0);
        Assert.Equal(0, Broker.Router.Watches.Count);

        // The Topics page links here with its filter.
        await NavigateAsync(page, "Topics", "Topics");
        await page.GetByLabel("Topic filter").FillAsync("dash/linked/#");
        await page.GetByTestId("watch-link").ClickAsync();
        await Expect(page.Locator("#watch-filter")).ToHaveValueAsync("dash/linked/#");
        await page.Context.CloseAsync();
    }

    /// <summary>Opens the Watch page through the navigation and watches <paramref name="filter"/>; returns the status line.</summary>
    internal static async Task<ILocator> WatchAsync(IPage page, string filter)
    {
        await NavigateAsync(page, "Watch", "Watch a topic");
        await page.Locator("#watch-filter").FillAsync(filter);
        await page.GetByRole(AriaRole.Button, new() { Name = "Watch", Exact = true }).ClickAsync();
        var status = page.GetByTestId("watch-status");
        await Expect(status).ToContainTextAsync($"Watching {filter} on broker 'default'");
        return status;
    }

    /// <summary>Waits until the pages of earlier tests, closed at their end, have closed their watches on the server.</summary>
    private Task NoWatchLeftAsync() => Poll.UntilAsync(() => Broker.Router.Watches.Count == 0, Chromium.Timeout);

    [GeneratedRegex("^[1-9][0-9]*$")]
    private static partial Regex NonZero();
}
