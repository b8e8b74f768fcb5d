using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using IoTHub.Web.Auth;

namespace IoTHub.Web.Tests;

/// <summary>
/// A host whose first admin gets a known password (IOTHUB_ADMIN_PASSWORD, set once for the test
/// process), with clients logged in as admin and as a viewer.
/// </summary>
public class AdminApiHost : KestrelHost
{
    public const string AdminPassword = "test-admin-password";
    public const string ViewerName = "viewer";
    public const string ViewerPassword = "test-viewer-password";

    private readonly SemaphoreSlim _login = new(1, 1);
    private HttpClient? _admin;
    private HttpClient? _viewer;

    static AdminApiHost() => Environment.SetEnvironmentVariable(FirstAdmin.PasswordVariable, AdminPassword);

    public AdminApiHost()
        : this(new Dictionary<string, string>())
    {
    }

    protected AdminApiHost(IReadOnlyDictionary<string, string> settings, TestCertificates? authority = null)
        : base(settings, authority)
    {
    }

    /// <summary>Logged in as the first admin.</summary>
    public async Task<HttpClient> AdminAsync()
    {
        await _login.WaitAsync();
        try
        {
            return _admin ??= WithToken(await LoginAsync(FirstAdmin.UserName, AdminPassword));
        }
        finally
        {
            _login.Release();
        }
    }

    /// <summary>Logged in as a viewer, created through the API the first time.</summary>
    public async Task<HttpClient> ViewerAsync()
    {
        var admin = await AdminAsync();
        await _login.WaitAsync();
        try
        {
            if (_viewer is null)
            {
                var created = await admin.PostAsJsonAsync("/api/v1/accounts", new { userName = ViewerName, password = ViewerPassword, role = "viewer" });
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                _viewer = WithToken(await LoginAsync(ViewerName, ViewerPassword));
            }

            return _viewer;
        }
        finally
        {
            _login.Release();
        }
    }

    /// <summary>Logged in as a new account, created through the API.</summary>
    public async Task<HttpClient> NewAccountAsync(string userName, string password, string role)
    {
        var created = await (await AdminAsync()).PostAsJsonAsync("/api/v1/accounts", new { userName, password, role });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return WithToken(await LoginAsync(userName, password));
    }

    public async Task<string> LoginAsync(string userName, string password)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/auth/login", new { userName, password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("accessToken").GetString()!;
    }

    public HttpClient WithToken(string token)
    {
        var client = NewClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _admin?.Dispose();
            _viewer?.Dispose();
            _login.Dispose();
        }

        base.Dispose(disposing);
    }
}

internal static class ProblemAssert
{
    /// <summary>Asserts a ProblemDetails answer with this status; returns its body.</summary>
    public static async Task<JsonElement> IsProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        return body;
    }
}
