using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Web.Auth;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host with the Database authenticator (its own SQLite file) and an admin API client logged in as the first admin,
/// for creating, changing and deleting MQTT users (and their roles and rules) the way an operator does. Bans are off:
/// its tests count refusals, many from one address.
/// </summary>
public class DatabaseUsersHost : IDisposable
{
    private const string AdminPassword = "interop-admin-password";

    static DatabaseUsersHost() => Environment.SetEnvironmentVariable(FirstAdmin.PasswordVariable, AdminPassword);

    public DatabaseUsersHost()
        : this(new Dictionary<string, string>())
    {
    }

    /// <param name="settings">More settings, e.g. <c>Security:AclDefault</c>.</param>
    /// <param name="logs">Also receives the host's log, when given.</param>
    protected DatabaseUsersHost(IReadOnlyDictionary<string, string> settings, LogCapture? logs = null)
    {
        Host = new InteropHost(new Dictionary<string, string>(settings)
        {
            ["Security:Authenticators:0:Type"] = "Database",
            ["Security:Bans:Enabled"] = "false",
        }, logs);
        Api = new HttpClient { BaseAddress = new Uri($"http://{Host.HttpEndpoint}"), Timeout = MqttNetClient.Timeout };
    }

    public InteropHost Host { get; }

    private HttpClient Api { get; }

    /// <summary>Sends a request to /api/v1/mqtt-users[/path] as the admin (logging in the first time) and asserts its status.</summary>
    public Task SendAsync(HttpMethod method, string path, object? body, HttpStatusCode expected) => ApiAsync(method, "/api/v1/mqtt-users" + path, body, expected);

    /// <summary>Sends a request to the admin API as the admin (logging in the first time), asserts its status and returns the body.</summary>
    public async Task<JsonElement> ApiAsync(HttpMethod method, string path, object? body, HttpStatusCode expected)
    {
        if (Api.DefaultRequestHeaders.Authorization is null)
        {
            var login = await Api.PostAsJsonAsync("/api/v1/auth/login", new { userName = FirstAdmin.UserName, password = AdminPassword });
            var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString();
            Api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await Api.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{method} {path}: {response.StatusCode} {text}");
        return text.Length == 0 ? default : JsonSerializer.Deserialize<JsonElement>(text);
    }

    public Task CreateAsync(string userName, string password, string? clientIdPattern = null) =>
        SendAsync(HttpMethod.Post, string.Empty, new { userName, password, clientIdPattern }, HttpStatusCode.Created);

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Api.Dispose();
            Host.Dispose();
        }
    }
}
