using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace IoTHub.Dashboard.Tests;

/// <summary>The dashboard's login seen from plain HTTP: redirects for pages, 401 for the API, files open to all.</summary>
public sealed class HttpTests(DashboardHost host) : IClassFixture<DashboardHost>, IDisposable
{
    private readonly HttpClient _client = new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false })
    {
        BaseAddress = host.Client.BaseAddress,
        Timeout = Chromium.Timeout,
    };

    [Theory]
    [InlineData("/", "/login?ReturnUrl=%2F")]
    [InlineData("/clients", "/login?ReturnUrl=%2Fclients")]
    public async Task A_page_without_a_cookie_redirects_to_the_login_page(string path, string login)
    {
        using var response = await _client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(host.Client.BaseAddress + login.TrimStart('/'), response.Headers.Location!.ToString());
    }

    // HEAD answers as GET does, without the body: it once missed the pages, and the login page sent it to itself for ever.
    [Theory]
    [InlineData("/", "/login?ReturnUrl=%2F")]
    [InlineData("/clients", "/login?ReturnUrl=%2Fclients")]
    public async Task A_head_request_for_a_page_without_a_cookie_redirects_to_the_login_page(string path, string login)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, path);
        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(host.Client.BaseAddress + login.TrimStart('/'), response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task The_login_page_is_open()
    {
        using var response = await _client.GetAsync("/login");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<form", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_login_page_is_open_to_head_requests_too()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, "/login");
        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    // A browser (it asks for text/html) gets a page of the dashboard; a program, and every path under /api, problem details.
    [Theory]
    [InlineData("/no-such-page", "text/html,application/xhtml+xml,*/*;q=0.8", "text/html")]
    [InlineData("/no-such-page", "application/json", "application/problem+json")]
    [InlineData("/api/v1/no-such-thing", "text/html,application/xhtml+xml,*/*;q=0.8", "application/problem+json")]
    public async Task An_unknown_path_is_404_as_a_page_for_browsers_and_problem_details_for_the_api(string path, string accept, string mediaType)
    {
        var admin = await host.AdminAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = admin.DefaultRequestHeaders.Authorization;
        request.Headers.Accept.ParseAdd(accept);

        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        if (mediaType == "text/html")
        {
            Assert.Contains("Page not found", body, StringComparison.Ordinal);
            Assert.Contains("css/dashboard.css", body, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(404, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
        }
    }

    [Fact]
    public async Task The_api_still_answers_401_without_a_token_never_a_redirect()
    {
        using var response = await _client.GetAsync("/api/v1/clients");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task The_api_takes_no_dashboard_cookie()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clients");
        request.Headers.Add("Cookie", "IoTHub.Dashboard=anything");

        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_bad_token_on_a_page_is_401_too()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-a-token");

        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("/_framework/blazor.web.js", "text/javascript")]
    [InlineData("/css/dashboard.css", "text/css")]
    [InlineData("/images/logo.svg", "image/svg+xml")]
    public async Task The_framework_script_and_the_web_root_are_served_without_login(string path, string mediaType)
    {
        using var response = await _client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
    }

    public void Dispose() => _client.Dispose();
}
