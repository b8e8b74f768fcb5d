using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace IoTHub.Interop.Tests.Security;

/// <summary>The admin API of an interop host, logged in as its first admin (whose password the tests choose).</summary>
internal static class AdminClient
{
    private const string Password = "interop-admin-password";

    /// <summary>Gives the first admin of hosts started from now on the tests' password (IOTHUB_ADMIN_PASSWORD): call before the host starts.</summary>
    public static void ChoosePassword() => Environment.SetEnvironmentVariable("IOTHUB_ADMIN_PASSWORD", Password);

    public static async Task<HttpClient> LoginAsync(InteropHost host)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://{host.HttpEndpoint}"), Timeout = MqttNetClient.Timeout };
        var response = await client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "admin", password = Password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var token = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }
}
