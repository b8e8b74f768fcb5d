using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The Publish form's MQTT 5.0 properties and base64 payload (issue 23), received by a real MQTT 5.0 mosquitto_sub.</summary>
public sealed class PublishPageTests(DashboardHost host, Chromium chromium) : IClassFixture<DashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task A_base64_payload_with_mqtt5_properties_from_the_form_reaches_mosquitto_sub_with_those_properties()
    {
        // Topic | payload in hex | content type | response topic | correlation data | expiry | payload format | user properties.
        using var subscriber = await SubscribeAsync("dash/form/#", "%t|%x|%C|%R|%D|%E|%F|%P");
        var page = await OpenFormAsync();

        await page.Locator("#topic").FillAsync("dash/form/binary");
        await page.Locator("#payload").FillAsync("AAEC/w==");
        await page.Locator("#encoding").SelectOptionAsync("Base64");
        await page.GetByText("MQTT 5.0 properties").ClickAsync();
        await page.Locator("#content-type").FillAsync("application/octet-stream");
        await page.Locator("#response-topic").FillAsync("dash/form/replies");
        await page.Locator("#correlation-data").FillAsync("cmVxLTc="); // "req-7", in base64 like the payload
        await page.Locator("#message-expiry").FillAsync("300");
        await page.Locator("#payload-format").SelectOptionAsync("0");
        var add = page.GetByRole(AriaRole.Button, new() { Name = "Add a user property" });
        await add.ClickAsync();
        await add.ClickAsync();
        await add.ClickAsync();
        var rows = page.GetByTestId("user-property");
        await rows.Nth(0).GetByLabel("User property name").FillAsync("site");
        await rows.Nth(0).GetByLabel("User property value").FillAsync("lab");
        await rows.Nth(1).GetByLabel("User property name").FillAsync("dropped");
        await rows.Nth(2).GetByLabel("User property name").FillAsync("line");
        await rows.Nth(2).GetByLabel("User property value").FillAsync("7");
        await rows.Nth(1).GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await Expect(rows).ToHaveCountAsync(2);
        await page.GetByRole(AriaRole.Button, new() { Name = "Publish", Exact = true }).ClickAsync();

        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Published to 'dash/form/binary' on broker 'default': 1 subscriber(s) reached.");
        await subscriber.WaitForLineAsync(static line => line.StartsWith("dash/form/binary|", StringComparison.Ordinal), Chromium.Timeout);
        var received = subscriber.Lines.Single(static line => line.StartsWith("dash/form/binary|", StringComparison.Ordinal)).Split('|');
        Assert.Equal("000102ff", received[1]);
        Assert.Equal("application/octet-stream", received[2]);
        Assert.Equal("dash/form/replies", received[3]);
        Assert.Equal("req-7", received[4]);
        Assert.InRange(int.Parse(received[5], System.Globalization.CultureInfo.InvariantCulture), 295, 300);
        Assert.Equal("0", received[6]);
        Assert.Equal("site:lab line:7", received[7]);
    }

    [Fact]
    public async Task Text_correlation_data_is_sent_as_utf8_and_a_bad_base64_payload_is_refused_in_the_page()
    {
        using var subscriber = await SubscribeAsync("dash/text/#", "%t|%p|%D|%F");
        var page = await OpenFormAsync();

        await page.Locator("#topic").FillAsync("dash/text/plain");
        await page.Locator("#payload").FillAsync("not base64!");
        await page.Locator("#encoding").SelectOptionAsync("Base64");
        await page.GetByRole(AriaRole.Button, new() { Name = "Publish", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("payload is not valid base64.");

        await page.Locator("#encoding").SelectOptionAsync("Text");
        await page.GetByText("MQTT 5.0 properties").ClickAsync();
        await page.Locator("#correlation-data").FillAsync("req-8");
        await page.Locator("#payload-format").SelectOptionAsync("1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Publish", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Published to 'dash/text/plain' on broker 'default': 1 subscriber(s) reached.");
        await subscriber.WaitForLineAsync("dash/text/plain|not base64!|req-8|1", Chromium.Timeout);
    }

    /// <summary>Starts an MQTT 5.0 mosquitto_sub of <paramref name="filter"/> printing <paramref name="format"/> (-F), and waits for its SUBACK.</summary>
    private async Task<ChildProcess> SubscribeAsync(string filter, string format)
    {
        var subscriber = DashboardPage.Mqtt(host, "mosquitto_sub", "-t", filter, "-F", format);
        await subscriber.WaitForLineAsync("Subscribed (mid: ", Chromium.Timeout);
        return subscriber;
    }

    /// <summary>Opens the Publish page as an admin.</summary>
    private async Task<IPage> OpenFormAsync()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Publish", "Publish a message");
        return page;
    }
}
