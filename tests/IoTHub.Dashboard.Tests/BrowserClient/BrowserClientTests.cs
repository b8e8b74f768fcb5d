using System.Globalization;
using System.Net;
using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests.BrowserClient;

/// <summary>
/// A real browser client: a page of the host runs mqtt.js in Chromium, over a ws:// listener, a wss:// listener and
/// /mqtt on the HTTP endpoint, under the host's Content-Security-Policy, and exchanges messages both ways with
/// mosquitto_pub and mosquitto_sub on the tls:// listener.
/// </summary>
public sealed class BrowserClientTests(BrowserClientHost host) : IClassFixture<BrowserClientHost>
{
    private const string Pub = "/usr/bin/mosquitto_pub";
    private const string Sub = "/usr/bin/mosquitto_sub";
    private const string LineBuffered = "/usr/bin/stdbuf";

    /// <param name="listener">"ws", "wss", or "http" for /mqtt on the HTTP endpoint (the page's own origin).</param>
    /// <param name="version">mqtt.js's protocolVersion: 4 is MQTT 3.1.1, 5 is MQTT 5.0.</param>
    [Theory]
    [InlineData("ws", 5)]
    [InlineData("ws", 4)]
    [InlineData("wss", 5)]
    [InlineData("wss", 4)]
    [InlineData("http", 5)]
    public async Task Mqttjs_in_chromium_exchanges_messages_with_mosquitto_clients_over_tls(string listener, int version)
    {
        var clientId = $"mqttjs-{listener}-{version}";
        var topic = $"browser/{listener}/{version}";
        var (url, transport) = listener switch
        {
            "ws" => ($"ws://127.0.0.1:{host.Port("ws")}/mqtt", TransportKind.WebSocket),
            "wss" => ($"wss://127.0.0.1:{host.Port("wss")}/mqtt", TransportKind.SecureWebSocket),
            _ => ($"ws://127.0.0.1:{host.BaseAddress.Port}/mqtt", TransportKind.WebSocket),
        };
        var (page, violations) = await OpenAsync(url, version, clientId, $"{topic}/in/#");

        await Expect(page.Locator("#state")).ToHaveTextAsync("subscribed with QoS 1");
        var connection = host.Services.GetRequiredService<MqttBroker>().FindSession(clientId)!.Connection!;
        Assert.Equal((url, transport, (MqttProtocolVersion)version), (connection.Info.Listener, connection.Info.Transport, connection.Version));

        // mosquitto_pub on the tls:// listener to the page.
        using (var publisher = ChildProcess.Start(Pub, [.. Tls(version), "-t", $"{topic}/in/kitchen", "-q", "1", "-m", "21.5 °C"]))
        {
            await publisher.WaitForSuccessAsync();
        }

        var received = page.Locator("#received li");
        await Expect(received).ToHaveTextAsync(["21.5 °C"]);
        await Expect(received).ToHaveAttributeAsync("data-topic", $"{topic}/in/kitchen");

        // The page to mosquitto_sub on the tls:// listener.
        using var subscriber = ChildProcess.Start(LineBuffered, ["-oL", Sub, "-d", .. Tls(version), "-t", $"{topic}/out/#", "-q", "1",
            "-C", "1", "-W", "30", "-F", "%t %p"]);
        await subscriber.WaitForLineAsync("Subscribed (mid: ");
        await page.GetByLabel("Topic").FillAsync($"{topic}/out/window");
        await page.GetByLabel("Payload").FillAsync("open from the browser");
        await page.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();

        await subscriber.WaitForSuccessAsync();
        Assert.Contains($"{topic}/out/window open from the browser", subscriber.Lines);
        await Expect(page.Locator("#state")).ToHaveTextAsync("subscribed with QoS 1"); // no publish error
        Assert.True(violations.IsEmpty, violations.ToString());
    }

    /// <summary>The policy lets pages reach the host's WebSocket listeners, not any port: the tls:// listener is refused.</summary>
    [Fact]
    public async Task The_policy_refuses_a_port_that_is_no_websocket_listener_of_the_host()
    {
        var url = $"ws://127.0.0.1:{host.Port("tls")}/mqtt";

        var (_, violations) = await OpenAsync(url, 5, "mqttjs-refused", "refused/#");

        await Poll.UntilAsync(() => !violations.IsEmpty, Chromium.Timeout);
        Assert.StartsWith($"connect-src {url} ", Assert.Single(violations.Reported), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task The_policy_names_the_websocket_listeners_under_the_host_name_of_the_page(string hostName)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        request.Headers.Host = $"{hostName}:{host.BaseAddress.Port}";

        using var response = await host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var expected = string.Create(CultureInfo.InvariantCulture, $"; connect-src 'self' ws://{hostName}:{host.Port("ws")} wss://{hostName}:{host.Port("wss")}; ");
        Assert.Contains(expected, string.Join(", ", response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
    }

    private async Task<(IPage Page, CspViolations Violations)> OpenAsync(string url, int version, string clientId, string topic)
    {
        var page = await host.Chromium.NewPageAsync(host.BaseUrl);
        var violations = await CspViolations.WatchAsync(page);
        var query = string.Create(CultureInfo.InvariantCulture,
            $"?url={Uri.EscapeDataString(url)}&version={version}&clientId={clientId}&topic={Uri.EscapeDataString(topic)}");
        await page.GotoAsync(BrowserClientHost.PagePath + query);
        return (page, violations);
    }

    private string[] Tls(int version) =>
        ["-h", "127.0.0.1", "-p", host.Port("tls").ToString(CultureInfo.InvariantCulture), "--cafile", host.Certificates.Authority,
            "-V", version == 5 ? "mqttv5" : "mqttv311"];
}
