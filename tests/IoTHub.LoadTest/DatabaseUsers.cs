using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace IoTHub.LoadTest;

/// <summary>
/// The connect-database scenarios' user, made the way an operator makes one: through IoTHub's admin API
/// (POST /api/v1/mqtt-users), logged in as the first admin whose password the tool gives the broker.
/// </summary>
internal static class DatabaseUsers
{
    /// <summary>The host's variable for the first admin's password (IoTHub.Web's FirstAdmin).</summary>
    public const string AdminPasswordVariable = "IOTHUB_ADMIN_PASSWORD";

    public const string AdminPassword = "load-tool-admin-password";

    public static async Task<Credentials> CreateAsync(BrokerProcess broker)
    {
        const string User = "bench-db";
        const string Password = "bench-db-password";
        var port = await broker.HttpPortAsync().ConfigureAwait(false);
        using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        using var login = await api.PostAsJsonAsync("/api/v1/auth/login", new { userName = "admin", password = AdminPassword }).ConfigureAwait(false);
        login.EnsureSuccessStatusCode();
        var token = (await login.Content.ReadFromJsonAsync<JsonElement>().ConfigureAwait(false)).GetProperty("accessToken").GetString();
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var created = await api.PostAsJsonAsync("/api/v1/mqtt-users", new { userName = User, password = Password }).ConfigureAwait(false);
        created.EnsureSuccessStatusCode();
        return new Credentials(User, Encoding.UTF8.GetBytes(Password), PasswordFile: null);
    }
}
