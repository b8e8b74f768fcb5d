using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The Retained page (issue 23): real chromium, retained messages published by mosquitto_pub and checked with mosquitto_sub.</summary>
public sealed class RetainedPageTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task An_admin_edits_and_deletes_retained_messages_and_a_subscriber_gets_what_the_page_shows()
    {
        await RetainAsync("dash/retained/a", "first");
        await RetainAsync("dash/retained/b", "second");
        var page = await OpenAsync(FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await SearchAsync(page, "dash/retained/#");
        await Expect(page.GetByTestId("retained-count")).ToHaveTextAsync("2 retained, page 1 of 1");
        var a = Row(page, "dash/retained/a");
        await Expect(a).ToContainTextAsync("meter-7 (meter-user)");
        await Expect(a).ToContainTextAsync("first");

        // Edit: the form takes the message; a new payload and QoS replace it.
        await a.GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        await Expect(page.Locator("#retained-payload")).ToHaveValueAsync("first");
        await page.Locator("#retained-payload").FillAsync("edited");
        await page.Locator("#retained-qos").SelectOptionAsync("1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Keep as retained" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Kept the retained message of 'dash/retained/a'.");
        await Expect(a).ToContainTextAsync("edited");
        await Expect(a).ToContainTextAsync("(the server)");

        // Delete, after a confirmation naming the topic.
        var b = Row(page, "dash/retained/b");
        await b.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Expect(b).ToContainTextAsync("Delete the retained message of dash/retained/b?");
        await b.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Deleted the retained message of 'dash/retained/b'.");
        await Expect(b).ToHaveCountAsync(0);

        Assert.Equal(["dash/retained/a edited"], await RetainedSeenAsync("dash/retained/#"));
        var audit = await (await host.AdminAsync()).GetStringAsync("/api/v1/audit?actor=admin&pageSize=500");
        Assert.Contains("\"DELETE /api/v1/retained/dash/retained/b\"", audit, StringComparison.Ordinal);
        Assert.Contains("\"PUT /api/v1/retained/dash/retained/a\"", audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_delete_repeated_after_someone_else_deleted_is_done_and_writes_under_sys_are_refused()
    {
        await RetainAsync("dash/twice/a", "x");
        var page = await OpenAsync(FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await SearchAsync(page, "dash/twice/#");
        var row = Row(page, "dash/twice/a");
        await row.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();

        // Gone through the API while the page asked for confirmation: the page's delete finds nothing and says it is done.
        Assert.Equal(HttpStatusCode.NoContent, (await (await host.AdminAsync()).DeleteAsync("/api/v1/retained/dash/twice/a")).StatusCode);
        await row.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" }).ClickAsync();

        await Expect(page.Locator(".message-ok")).ToHaveTextAsync("The retained message of 'dash/twice/a' was already deleted.");
        await Expect(row).ToHaveCountAsync(0);

        await page.Locator("#retained-topic").FillAsync("$SYS/fake");
        await page.Locator("#retained-payload").FillAsync("x");
        await page.GetByRole(AriaRole.Button, new() { Name = "Keep as retained" }).ClickAsync();
        await Expect(page.Locator(".message-error")).ToHaveTextAsync("topic is under $SYS/, where only the broker writes.");
        await SearchAsync(page, "$SYS/fake");
        await Expect(page.GetByTestId("retained-count")).ToHaveTextAsync("0 retained, page 1 of 1");
    }

    [Fact]
    public async Task Sixty_messages_are_shown_a_page_at_a_time_and_deleted_at_once_by_filter()
    {
        var admin = await host.AdminAsync();
        for (var i = 0; i < 60; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/v1/retained/dash/bulk/{i:D2}", new { payload = "v" + i })).StatusCode);
        }

        var page = await OpenAsync(FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await page.GetByLabel("Topic filter").FillAsync("dash/bulk/+/+");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.GetByTestId("retained-count")).ToHaveTextAsync("0 retained, page 1 of 1");
        await page.GetByLabel("Topic filter").FillAsync("dash/bulk/#/x");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.GetByTestId("filter-error")).ToContainTextAsync("topicFilter is not a valid MQTT topic filter.");
        await Expect(page.GetByTestId("retained-messages")).ToHaveCountAsync(0);

        await SearchAsync(page, "dash/bulk/#");
        var rows = page.GetByTestId("retained-messages").Locator("tbody tr");
        await Expect(page.GetByTestId("retained-count")).ToHaveTextAsync("60 retained, page 1 of 2");
        await Expect(rows).ToHaveCountAsync(50);
        await page.GetByRole(AriaRole.Button, new() { Name = "Next" }).ClickAsync();
        await Expect(page.GetByTestId("retained-count")).ToHaveTextAsync("60 retained, page 2 of 2");
        await Expect(rows).ToHaveCountAsync(10);
        await Expect(rows.First).ToHaveAttributeAsync("data-topic", "dash/bulk/50");

        await page.GetByRole(AriaRole.Button, new() { Name = "Delete all matching" }).ClickAsync();
        await Expect(page.GetByTestId("confirm-bulk")).ToContainTextAsync("Delete the 60 retained message(s) matching 'dash/bulk/#' of broker 'default'?");
        await page.GetByRole(AriaRole.Button, new() { Name = "Confirm delete all" }).ClickAsync();

        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Deleted 60 retained message(s) matching 'dash/bulk/#'.");
        await Expect(page.GetByTestId("retained-count")).ToHaveTextAsync("0 retained, page 1 of 1");
        Assert.Empty(await RetainedSeenAsync("dash/bulk/#"));
        var audit = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?actor=admin&pageSize=500");
        Assert.Single(audit.GetProperty("items").EnumerateArray(),
            static e => e.GetProperty("action").GetString() == "DELETE /api/v1/retained?topicFilter=dash%2Fbulk%2F%23");
    }

    [Fact]
    public async Task A_viewer_sees_the_retained_messages_without_a_control()
    {
        await RetainAsync("dash/viewed/a", "seen");
        await host.ViewerAsync();
        var page = await OpenAsync(AdminApiHost.ViewerName, AdminApiHost.ViewerPassword);
        await SearchAsync(page, "dash/viewed/#");

        await Expect(Row(page, "dash/viewed/a")).ToContainTextAsync("seen");
        await Expect(page.GetByText("You are signed in as a viewer")).ToBeVisibleAsync();
        foreach (var name in new[] { "Edit", "Delete", "Delete all matching", "Keep as retained" })
        {
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = name, Exact = true })).ToHaveCountAsync(0);
        }
    }

    private Task<IPage> OpenAsync(string userName, string password) =>
        DashboardPage.OpenAsync(chromium, host, userName, password, "Retained", "Retained messages");

    private static async Task SearchAsync(IPage page, string filter)
    {
        await page.GetByLabel("Topic filter").FillAsync(filter);
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.GetByTestId("retained-count")).ToContainTextAsync("retained, page 1 of");
    }

    private static ILocator Row(IPage page, string topic) => page.Locator($"tr[data-topic=\"{topic}\"]");

    /// <summary>Publishes a retained message with mosquitto_pub as client meter-7, user meter-user.</summary>
    private async Task RetainAsync(string topic, string payload)
    {
        using var publisher = DashboardPage.Mqtt(host, "mosquitto_pub", "-i", "meter-7", "-u", "meter-user", "-t", topic, "-m", payload, "-r", "-q", "1");
        Assert.Equal(0, await publisher.WaitForExitAsync(Chromium.Timeout));
    }

    /// <summary>
    /// The retained messages a new mosquitto_sub of <paramref name="filter"/> gets ("topic payload"): they come right after its
    /// SUBACK, before a marker published after it, so reading up to the marker reads them all without waiting for time to pass.
    /// </summary>
    private async Task<IReadOnlyList<string>> RetainedSeenAsync(string filter)
    {
        var marker = filter.TrimEnd('#') + "zz-marker";
        using var subscriber = DashboardPage.Mqtt(host, "mosquitto_sub", "-i", "retained-checker", "-t", filter, "-v");
        await subscriber.WaitForLineAsync("Subscribed (mid: ", Chromium.Timeout);
        using (var publisher = DashboardPage.Mqtt(host, "mosquitto_pub", "-i", "retained-marker", "-t", marker, "-m", "end"))
        {
            Assert.Equal(0, await publisher.WaitForExitAsync(Chromium.Timeout));
        }

        await subscriber.WaitForLineAsync(marker + " end", Chromium.Timeout);
        return [.. subscriber.Lines.Where(static line => line.StartsWith("dash/", StringComparison.Ordinal) && !line.Contains("zz-marker", StringComparison.Ordinal))];
    }
}
