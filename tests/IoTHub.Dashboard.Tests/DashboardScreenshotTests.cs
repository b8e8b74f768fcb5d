using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Mqtt;
using IoTHub.Web.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>
/// Every page of the dashboard, as an admin sees it at 1440 x 900 over a small greenhouse fleet (<see cref="GreenhouseHost"/>):
/// each test checks what its pages must show, then saves each page's screenshot as dashboard/{page}.png (<see cref="Screenshots"/>;
/// docs/dashboard.md shows them).
/// </summary>
public sealed class DashboardScreenshotTests(DashboardScreenshotTests.GreenhouseHost host, Chromium chromium)
    : IClassFixture<DashboardScreenshotTests.GreenhouseHost>, IClassFixture<Chromium>
{
    private const int Width = 1440;
    private const int Height = 900;

    [Fact]
    public async Task The_overview_clients_sessions_topics_retained_and_status_pages_show_the_fleet()
    {
        var page = await AdminPageAsync();
        await Expect(page.GetByTestId("connected-count")).ToHaveTextAsync(GreenhouseHost.Connected.Length.ToString(CultureInfo.InvariantCulture));
        await Expect(page.GetByTestId("no-alarms")).ToBeVisibleAsync();
        await Expect(page.Locator("svg polyline")).ToHaveCountAsync(3);
        await SaveAsync(page, "overview");

        await NavigateAsync(page, "Clients", "Clients");
        foreach (var clientId in GreenhouseHost.Connected)
        {
            await Expect(ClientRow(page, clientId)).ToBeVisibleAsync();
        }

        await Expect(ClientRow(page, "weather-station")).ToContainTextAsync("3.1.1");
        await Expect(ClientRow(page, GreenhouseHost.Offline)).ToHaveCountAsync(0);
        await SaveAsync(page, "clients");

        await NavigateAsync(page, "Sessions", "Sessions and subscriptions");
        var offline = page.Locator($"[data-testid=sessions] tr[data-client-id=\"{GreenhouseHost.Offline}\"]");
        await Expect(offline.Locator("td").Nth(2)).ToHaveTextAsync("offline");
        await Expect(offline.Locator("td").Nth(6)).ToHaveTextAsync(GreenhouseHost.Queued.ToString(CultureInfo.InvariantCulture));
        await Expect(page.Locator($"[data-testid=subscriptions] tr[data-client-id=\"{GreenhouseHost.Offline}\"]")).ToContainTextAsync("greenhouse/irrigation/#");
        await SaveAsync(page, "sessions");

        await NavigateAsync(page, "Topics", "Topics");
        await Expect(page.Locator(".leaf[data-topic=\"greenhouse/zone-1/temperature\"]")).ToContainTextAsync("21.4");
        await Expect(page.Locator(".leaf[data-topic=\"weather/outside/wind\"]")).ToContainTextAsync("12 km/h");
        await SaveAsync(page, "topics");

        await NavigateAsync(page, "Retained", "Retained messages");
        var temperature = page.Locator("[data-testid=retained-messages] tr[data-topic=\"weather/outside/temperature\"]");
        await Expect(temperature).ToContainTextAsync("8.9");
        await Expect(temperature).ToContainTextAsync("weather-station");
        await Expect(page.GetByTestId("retained-count")).ToHaveTextAsync($"{GreenhouseHost.Retained} retained, page 1 of 1");
        await SaveAsync(page, "retained");

        await NavigateAsync(page, "Status", "Brokers and listeners");
        var broker = page.GetByTestId("brokers").Locator("tbody tr");
        await Expect(broker.Locator("td").First).ToHaveTextAsync("default");
        await Expect(broker.Locator("td").Nth(2)).ToHaveTextAsync(GreenhouseHost.Connected.Length.ToString(CultureInfo.InvariantCulture));
        await SaveAsync(page, "status");
    }

    [Fact]
    public async Task The_watch_page_shows_a_message_of_an_mqttnet_client_and_the_publish_page_reaches_a_sensor()
    {
        var page = await AdminPageAsync();
        await WatchPageTests.WatchAsync(page, "greenhouse/#");
        await host.Console.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("greenhouse/zone-2/alert").WithPayload("humidity above 85 %")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithContentType("text/plain").WithUserProperty("zone", "2"u8.ToArray()).Build());
        var alert = page.Locator("tr[data-topic=\"greenhouse/zone-2/alert\"]");
        await Expect(alert).ToContainTextAsync("humidity above 85 %");
        await Expect(alert.Locator("dl")).ToHaveTextAsync("publisherops-console" + "content typetext/plain" + "user propertyzone = 2");
        await SaveAsync(page, "watch");

        await NavigateAsync(page, "Publish", "Publish a message");
        await page.Locator("#topic").FillAsync("greenhouse/zone-1/setpoint");
        await page.Locator("#payload").FillAsync("22.0");
        await page.Locator("#qos").SelectOptionAsync("1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        // Zone 1 subscribed to its set point, the console to everything under greenhouse/.
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Published to 'greenhouse/zone-1/setpoint' on broker 'default': 2 subscriber(s) reached.");
        Assert.Equal("22.0", await host.SetPoint.Task.WaitAsync(Chromium.Timeout));
        await SaveAsync(page, "publish");
    }

    [Fact]
    public async Task The_users_roles_accounts_api_keys_and_audit_pages_show_what_the_api_set_up()
    {
        var page = await AdminPageAsync();
        await NavigateAsync(page, "Users", "MQTT users");
        await Expect(page.Locator("[data-testid=mqtt-users] tr[data-user=greenhouse]")).ToContainTextAsync("greenhouse-*");
        await Expect(page.Locator("[data-testid=mqtt-users] tr[data-user=weather]")).ToBeVisibleAsync();
        await SaveAsync(page, "users");

        await NavigateAsync(page, "Roles", "Roles and access rules");
        var sensors = page.Locator("[data-testid=roles] tr[data-role=sensors]");
        await Expect(sensors).ToContainTextAsync("Field units: their own readings");
        await Expect(sensors.Locator("td").Nth(2)).ToHaveTextAsync("1"); // its member, greenhouse
        await Expect(page.GetByTestId("rules").Locator("tbody tr").First).ToContainTextAsync("allow publish greenhouse/#");
        await Expect(page.Locator("[data-testid=user-roles] tr[data-user=greenhouse]")).ToContainTextAsync("sensors");
        await SaveAsync(page, "roles");

        await NavigateAsync(page, "Accounts", "Accounts");
        await Expect(page.Locator("[data-testid=accounts] tr[data-account=night-shift]")).ToContainTextAsync("viewer");
        await Expect(page.Locator("[data-testid=accounts] tr[data-account=field-engineer]")).ToContainTextAsync("admin");
        await SaveAsync(page, "accounts");

        await NavigateAsync(page, "API keys", "API keys");
        await Expect(page.Locator("[data-testid=api-keys] tr[data-key=grafana]")).ToContainTextAsync("viewer");
        await SaveAsync(page, "api-keys");

        await NavigateAsync(page, "Audit", "Audit log");
        await page.GetByRole(AriaRole.Tab, new() { Name = "Admin actions" }).ClickAsync();
        var created = page.GetByTestId("audit-entries").Locator("tbody tr", new() { HasText = "POST /api/v1/accounts" });
        await Expect(created).ToHaveCountAsync(2);
        await Expect(created.First).ToHaveAttributeAsync("data-source", "api");
        await Expect(created.First).ToContainTextAsync("201");
        await SaveAsync(page, "audit");
    }

    [Fact]
    public async Task The_login_and_not_found_pages()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl, Width, Height);
        await page.GotoAsync("/login");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "IoTHub" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Log in" })).ToBeVisibleAsync();
        await Expect(page.Locator("#password")).ToHaveValueAsync(string.Empty);
        // The card alone: the page around it is a gradient, a large PNG that says nothing more.
        await SaveAsync(page.Locator(".login-card"), "login");

        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await page.GotoAsync("/greenhouse");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Page not found", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("main")).ToContainTextAsync("There is no page at /greenhouse.");
        await SaveAsync(page, "not-found");
    }

    private async Task<IPage> AdminPageAsync()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl, Width, Height);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        return page;
    }

    /// <summary>Saves the page once nothing of it is cut off: no table wider than its box, whose last columns (the row's actions) would be out of sight.</summary>
    private static async Task SaveAsync(IPage page, string name)
    {
        var clipped = await page.EvaluateAsync<string[]>(
            "() => [...document.querySelectorAll('main .table-wrap')].filter(w => w.scrollWidth > w.clientWidth).map(w => w.querySelector('table')?.dataset.testid + ': ' + w.scrollWidth + ' > ' + w.clientWidth)");
        Assert.True(clipped.Length == 0, $"{name}: {string.Join(", ", clipped)}");
        Saved(await Screenshots.SaveAsync(page, Path.Combine("dashboard", name + ".png")));
    }

    private static async Task SaveAsync(ILocator element, string name) => Saved(await Screenshots.SaveAsync(element, Path.Combine("dashboard", name + ".png")));

    private static void Saved(string path) => Assert.True(new FileInfo(path).Length > 0, path);

    /// <summary>
    /// The host with a greenhouse fleet: four MQTTnet clients connected (one of them MQTT 3.1.1), retained readings, a persistent
    /// session offline with messages queued for it, and, made through the API, MQTT users, a role with a rule, two accounts and an API key.
    /// </summary>
    public sealed class GreenhouseHost : DashboardHost, IAsyncLifetime
    {
        public const string Offline = "irrigation-controller";
        public const int Queued = 3;
        public const int Retained = 5;

        public static readonly string[] Connected = ["greenhouse-zone-1", "greenhouse-zone-2", "weather-station", "ops-console"];

        private readonly List<IMqttClient> _clients = [];

        /// <summary>The console client: subscribed to everything under greenhouse/ and weather/.</summary>
        public IMqttClient Console => _clients[^1];

        /// <summary>The first set point zone 1 receives.</summary>
        public TaskCompletionSource<string> SetPoint { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task InitializeAsync()
        {
            var admin = await AdminAsync();
            foreach (var (path, body) in new (string, object)[]
            {
                ("/api/v1/mqtt-users", new { userName = "greenhouse", password = "greenhouse-password", enabled = true, clientIdPattern = "greenhouse-*" }),
                ("/api/v1/mqtt-users", new { userName = "weather", password = "weather-password", enabled = true }),
                ("/api/v1/roles", new { name = "sensors", description = "Field units: their own readings" }),
                ("/api/v1/acl-rules", new { scope = "role", role = "sensors", permission = "allow", action = "publish", topicFilter = "greenhouse/#" }),
                ("/api/v1/accounts", new { userName = "night-shift", password = "night-shift-password", role = "viewer" }),
                ("/api/v1/accounts", new { userName = "field-engineer", password = "field-engineer-password", role = "admin" }),
                ("/api/v1/api-keys", new { name = "grafana", role = "viewer" }),
            })
            {
                Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync(path, body)).StatusCode);
            }

            Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/v1/mqtt-users/greenhouse/roles", new { roles = new[] { "sensors" } })).StatusCode);

            // The irrigation controller keeps its session for a day; what is published to it while it is away waits in its queue.
            var irrigation = await ConnectAsync(Offline, "greenhouse", MqttProtocolVersion.V500, persistent: true);
            await irrigation.SubscribeAsync("greenhouse/irrigation/#", MqttQualityOfServiceLevel.AtLeastOnce);
            await irrigation.DisconnectAsync();
            irrigation.Dispose();

            var zone1 = await ConnectAsync("greenhouse-zone-1", "greenhouse", MqttProtocolVersion.V500);
            zone1.ApplicationMessageReceivedAsync += received =>
            {
                SetPoint.TrySetResult(received.ApplicationMessage.ConvertPayloadToString());
                return Task.CompletedTask;
            };
            await zone1.SubscribeAsync("greenhouse/zone-1/setpoint", MqttQualityOfServiceLevel.AtLeastOnce);
            var zone2 = await ConnectAsync("greenhouse-zone-2", "greenhouse", MqttProtocolVersion.V500);
            var weather = await ConnectAsync("weather-station", "weather", MqttProtocolVersion.V311);
            var console = await ConnectAsync("ops-console", null, MqttProtocolVersion.V500);
            await console.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("greenhouse/#").WithTopicFilter("weather/#").Build());

            await RetainAsync(zone1, "greenhouse/zone-1/temperature", "21.4");
            await RetainAsync(zone1, "greenhouse/zone-1/humidity", "64");
            await RetainAsync(zone2, "greenhouse/zone-2/temperature", "23.1");
            await RetainAsync(weather, "weather/outside/temperature", "8.9");
            await RetainAsync(weather, "weather/outside/wind", "12 km/h");
            for (var valve = 1; valve <= Queued; valve++)
            {
                await console.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"greenhouse/irrigation/valve-{valve}").WithPayload("open 10 min")
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            }

            var broker = Services.GetRequiredService<BrokerRegistry>().Default;
            await Poll.UntilAsync(() => broker.GetSession(Offline)?.QueuedMessages == Queued, Chromium.Timeout);
        }

        Task IAsyncLifetime.DisposeAsync()
        {
            foreach (var client in _clients)
            {
                client.Dispose();
            }

            return Task.CompletedTask;
        }

        private static Task<MqttClientPublishResult> RetainAsync(IMqttClient client, string topic, string payload) =>
            client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithRetainFlag()
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

        private async Task<IMqttClient> ConnectAsync(string clientId, string? userName, MqttProtocolVersion version, bool persistent = false)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            var options = new MqttClientOptionsBuilder().WithTcpServer(MqttEndpoint.Address.ToString(), MqttEndpoint.Port).WithClientId(clientId)
                .WithProtocolVersion(version).WithTimeout(Chromium.Timeout);
            options = userName is null ? options : options.WithCredentials(userName, userName + "-password");
            options = persistent ? options.WithCleanStart(false).WithSessionExpiryInterval(86_400) : options;
            await client.ConnectAsync(options.Build());
            if (!persistent)
            {
                _clients.Add(client);
            }

            return client;
        }
    }
}
