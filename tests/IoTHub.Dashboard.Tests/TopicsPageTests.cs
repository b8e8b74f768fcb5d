using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The Topics page (issue 23): live, with the broker's own <c>$SYS</c> retained messages counted apart as on the overview and the status page.</summary>
public sealed partial class TopicsPageTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task A_message_retained_by_mosquitto_pub_appears_under_the_typed_filter_and_the_counts_agree_with_the_overview()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        // The broker publishes its $SYS topics as retained messages: the overview counts them apart.
        await Expect(page.GetByTestId("retained-sys")).ToHaveTextAsync(SysCount());
        var sys = await page.GetByTestId("retained-sys").TextContentAsync();

        await NavigateAsync(page, "Topics", "Topics");
        var filter = page.GetByLabel("Topic filter");
        await filter.FillAsync("dash/topics/#");
        var panel = page.Locator("section[data-broker=default]");
        await Expect(panel.GetByTestId("retained-count")).ToHaveTextAsync("0");
        await Expect(panel.GetByTestId("retained-sys")).ToHaveTextAsync(sys!);

        // Published after the page is shown, with no click: only the page's own refresh can bring it.
        await RetainAsync("dash/topics/tank/level", "72");

        var retained = page.Locator("[data-testid=retained][data-topic=\"dash/topics/tank/level\"]");
        await Expect(retained).ToContainTextAsync("72");
        await Expect(panel.GetByTestId("retained-count")).ToHaveTextAsync("1");
        await Expect(filter).ToHaveValueAsync("dash/topics/#");

        // '#' counts what the overview counts, $SYS apart; the filter $SYS/# shows the $SYS ones (and nothing apart).
        await filter.FillAsync("#");
        await Expect(retained).ToBeVisibleAsync();

        // Read once the page rendered for '#' (the link carries the filter of the same render as the count): the message was visible
        // under the previous filter already, and a count read before that render was the previous filter's (1 against the overview's 3
        // when another test had retained messages of its own).
        await Expect(page.GetByTestId("watch-link")).ToHaveAttributeAsync("href", "watch?filter=%23");
        var all = await panel.GetByTestId("retained-count").TextContentAsync();
        await Expect(panel.GetByTestId("retained-sys")).ToHaveTextAsync(sys!);
        await filter.FillAsync("$SYS/#");
        await Expect(panel.GetByTestId("retained-count")).ToHaveTextAsync(sys!.Replace("+", "", StringComparison.Ordinal).Replace(" $SYS", "", StringComparison.Ordinal));
        await Expect(panel.GetByTestId("retained-sys")).ToHaveCountAsync(0);
        await Expect(panel.Locator("[data-testid=retained][data-topic=\"$SYS/broker/retained messages/count\"]")).ToBeVisibleAsync();

        await NavigateAsync(page, "Overview", "Overview");
        await Expect(page.GetByTestId("retained-count")).ToHaveTextAsync(all!);
        await Expect(page.GetByTestId("retained-sys")).ToHaveTextAsync(sys);
        await NavigateAsync(page, "Status", "Brokers and listeners");
        await Expect(page.GetByTestId("brokers").GetByTestId("retained-count")).ToHaveTextAsync($"{all} {sys}");

        // The API counts them all, and the $SYS ones again apart.
        var broker = await (await host.AdminAsync()).GetFromJsonAsync<JsonElement>("/api/v1/brokers/default");
        var apart = broker.GetProperty("retainedSysMessages").GetInt32();
        Assert.Equal($"+{apart} $SYS", sys);
        Assert.Equal(int.Parse(all!, CultureInfo.InvariantCulture) + apart, broker.GetProperty("retainedMessages").GetInt32());
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_level_closed_by_a_click_stays_closed_when_a_new_topic_arrives_before_it()
    {
        await RetainAsync("dash/keep/b/level");
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Topics", "Topics");
        await page.GetByLabel("Topic filter").FillAsync("dash/keep/#");
        var b = Level(page, "b");
        await b.Locator("> summary").ClickAsync();
        Assert.False(await b.EvaluateAsync<bool>("details => details.open"));

        // The live page renders a first, before b: b is still the level that was closed.
        await RetainAsync("dash/keep/a/level");
        await Expect(Level(page, "a").Locator("[data-testid=retained]")).ToBeVisibleAsync();
        Assert.False(await b.EvaluateAsync<bool>("details => details.open"));
        Assert.True(await Level(page, "a").EvaluateAsync<bool>("details => details.open"));
        await page.Context.CloseAsync();
    }

    private static ILocator Level(IPage page, string name) => page.Locator($"details:has(> summary > .level:text-is('{name}'))");

    /// <summary>Retains a message with a real mosquitto_pub (QoS 1: it ends once the broker has it).</summary>
    private async Task RetainAsync(string topic, string payload = "1")
    {
        using var publisher = DashboardPage.Mqtt(host, "mosquitto_pub", "-i", "dash-topics-pub", "-q", "1", "-r", "-t", topic, "-m", payload);
        await publisher.WaitForSuccessAsync(Chromium.Timeout);
    }

    [GeneratedRegex(@"^\+[1-9][0-9]* \$SYS$")]
    private static partial Regex SysCount();
}
