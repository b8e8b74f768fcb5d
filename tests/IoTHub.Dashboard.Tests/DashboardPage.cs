using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>What the tests do on the dashboard the way a person does: log in, wait for the live connection, start MQTT clients.</summary>
internal static class DashboardPage
{
    private const string Sub = "/usr/bin/mosquitto_sub";

    /// <summary>mosquitto_sub writes to a pipe through a full stdio buffer; stdbuf (coreutils) makes it a line buffer.</summary>
    private const string LineBuffered = "/usr/bin/stdbuf";

    /// <summary>Logs in through the form and waits for the page it leads to (the overview) to be live.</summary>
    public static async Task LogInAsync(IPage page, string userName, string password)
    {
        await page.GotoAsync("/login");
        await page.Locator("#userName").FillAsync(userName);
        await page.Locator("#password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync();
        await WaitUntilLiveAsync(page);
    }

    /// <summary>Waits until the page runs in its interactive circuit (the layout shows "Live" then), so what follows arrives over it.</summary>
    public static Task WaitUntilLiveAsync(IPage page) => Expect(page.GetByTestId("live")).ToBeVisibleAsync();

    /// <summary>A new page, logged in, on the page of <paramref name="link"/> in the navigation.</summary>
    public static async Task<IPage> OpenAsync(Chromium chromium, DashboardHost host, string userName, string password, string link, string heading)
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, userName, password);
        await NavigateAsync(page, link, heading);
        return page;
    }

    /// <summary>Goes to another page through the navigation, inside the circuit.</summary>
    public static async Task NavigateAsync(IPage page, string link, string heading)
    {
        await page.GetByRole(AriaRole.Navigation).GetByRole(AriaRole.Link, new() { Name = link, Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = heading, Level = 1 })).ToBeVisibleAsync();
    }

    /// <summary>
    /// Starts a real mosquitto_sub (MQTT 5.0, which ends when the server disconnects it) and waits for its
    /// SUBACK: with -d it prints "Subscribed (mid: 1)" then.
    /// </summary>
    public static async Task<ChildProcess> SubscribeAsync(DashboardHost host, string clientId, string topic)
    {
        var subscriber = ChildProcess.Start(LineBuffered, ["-oL", Sub, "-d", "-h", host.MqttEndpoint.Address.ToString(),
            "-p", host.MqttEndpoint.Port.ToString(CultureInfo.InvariantCulture), "-V", "mqttv5", "-i", clientId, "-u", UserOf(clientId), "-t", topic]);
        await subscriber.WaitForLineAsync("Subscribed (mid: ", Chromium.Timeout);
        return subscriber;
    }

    /// <summary>A mosquitto client (MQTT 5.0, -d, line-buffered) on the host's MQTT listener.</summary>
    public static ChildProcess Mqtt(DashboardHost host, string program, params string[] arguments) =>
        ChildProcess.Start(LineBuffered, ["-oL", "/usr/bin/" + program, "-d", "-V", "mqttv5", "-h", host.MqttEndpoint.Address.ToString(),
            "-p", host.MqttEndpoint.Port.ToString(CultureInfo.InvariantCulture), .. arguments]);

    /// <summary>The user name <see cref="SubscribeAsync"/> connects with.</summary>
    public static string UserOf(string clientId) => "user-" + clientId;

    /// <summary>The newest entry of the admin audit log with this action (failing the test when there is none).</summary>
    public static async Task<JsonElement> AuditEntryAsync(DashboardHost host, string action)
    {
        var admin = await host.AdminAsync();
        var body = await admin.GetFromJsonAsync<JsonElement>("/api/v1/audit?pageSize=500");
        return body.GetProperty("items").EnumerateArray().First(e => e.GetProperty("action").GetString() == action);
    }

    /// <summary>The row of a client in the clients table.</summary>
    public static ILocator ClientRow(IPage page, string clientId) => page.Locator($"tr[data-client-id=\"{clientId}\"]");
}
