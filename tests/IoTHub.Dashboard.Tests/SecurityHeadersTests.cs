using System.Net;
using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Extensions.DependencyInjection;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>
/// The security headers of the HTTP endpoint (docs/security.md), over plain HTTP and over HTTPS: on every kind of answer,
/// and a Content-Security-Policy strict enough to refuse inline styles (but on the Swagger UI) under which the real
/// dashboard, Blazor's circuit included, and the Swagger UI work in Chromium without one violation.
/// </summary>
public abstract class SecurityHeadersTests<THost>(THost host, Chromium chromium)
    where THost : DashboardHost
{
    protected THost Host => host;

    [Theory]
    [InlineData("/login")]
    [InlineData("/")]
    [InlineData("/api/v1/clients")]
    [InlineData("/api/v1/auth/login")]
    [InlineData("/metrics")]
    [InlineData("/health/live")]
    [InlineData("/css/dashboard.css")]
    [InlineData("/_framework/blazor.web.js")]
    [InlineData("/swagger/index.html")]
    [InlineData("/no-such-page")]
    public async Task Every_answer_carries_the_security_headers(string path)
    {
        using var client = host.NewClient(allowAutoRedirect: false, useCookies: false);

        using var response = await client.GetAsync(path);

        var policy = Header(response, "Content-Security-Policy");
        Assert.Contains("script-src 'self';", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self';", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        // Only the Swagger UI, whose script writes style elements, may use inline styles; nothing may run inline scripts or eval.
        Assert.EndsWith(path.StartsWith("/swagger", StringComparison.Ordinal) ? "; style-src 'self' 'unsafe-inline'" : "; style-src 'self'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", policy, StringComparison.Ordinal);
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
        Assert.Equal(host.BaseAddress.Scheme == "https" ? "max-age=31536000" : null, Header(response, "Strict-Transport-Security"));
    }

    [Fact]
    public async Task The_dashboard_and_the_swagger_ui_run_in_chromium_without_a_content_security_policy_violation()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        var violations = await CspViolations.WatchAsync(page);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Clients", "Clients");

        // Live data: a client that connects now can only reach the page over the circuit.
        using var subscriber = await SubscribeAsync(host, "csp-live", "csp/live/#");
        await Expect(ClientRow(page, "csp-live")).ToBeVisibleAsync();
        await NavigateAsync(page, "Overview", "Overview");
        await Expect(page.Locator("svg").First).ToBeVisibleAsync();
        await NavigateAsync(page, "Status", "Brokers and listeners");
        await page.GotoAsync("/swagger");
        await Expect(page.Locator(".opblock").First).ToBeVisibleAsync();

        Assert.True(violations.IsEmpty, violations.ToString());

        // The check itself works: on a dashboard page an inline style attribute is refused and reported.
        await page.GotoAsync("/login");
        await page.EvaluateAsync("() => document.body.setAttribute('style', 'color: red')");
        await Poll.UntilAsync(() => !violations.IsEmpty, Chromium.Timeout);
        Assert.StartsWith("style-src", Assert.Single(violations.Reported), StringComparison.Ordinal);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;
}

/// <summary>Over plain HTTP: the headers, no Strict-Transport-Security.</summary>
public sealed class HttpSecurityHeadersTests(DashboardHost host, Chromium chromium)
    : SecurityHeadersTests<DashboardHost>(host, chromium), IClassFixture<DashboardHost>, IClassFixture<Chromium>;

/// <summary>Over HTTPS (Http:Certificate): the headers with Strict-Transport-Security, and HTTP/2 agreed through ALPN.</summary>
public sealed class HttpsSecurityHeadersTests(HttpsDashboardHost host, Chromium chromium)
    : SecurityHeadersTests<HttpsDashboardHost>(host, chromium), IClassFixture<HttpsDashboardHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task The_endpoint_speaks_http2_and_http11_over_tls()
    {
        using var client = Host.NewClient();
        foreach (var version in new[] { HttpVersion.Version20, HttpVersion.Version11 })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/health/live") { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

            using var response = await client.SendAsync(request);

            Assert.Equal((HttpStatusCode.OK, version), (response.StatusCode, response.Version));
        }
    }

    [Fact]
    public async Task Mqtt_at_the_https_endpoint_is_wss_and_takes_websockets_over_http2()
    {
        var url = $"wss://127.0.0.1:{Host.BaseAddress.Port}/mqtt";
        await using var client = await Http2WebSocket.ConnectAsync(new Uri(url), Host.Certificates.Issued);

        Assert.Equal(HttpStatusCode.OK, client.Socket.HttpStatusCode);
        await client.SendAsync(Http2WebSocket.Connect("h2-dashboard"));
        Assert.Equal(Http2WebSocket.ConnAck, await client.ReceiveAsync(4));
        var info = Host.Services.GetRequiredService<MqttBroker>().FindSession("h2-dashboard")!.Connection!.Info;
        Assert.Equal((TransportKind.SecureWebSocket, url), (info.Transport, info.Listener));
    }
}
