using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>
/// Retained messages set and deleted through the admin API go to storage like those from MQTT clients:
/// after a restart an API-set message is still there and an API-deleted one stays gone (issue 14, defect 1).
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class RetainedRestartTests(PostgresServer postgres) : IDisposable
{
    private readonly TempDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("file")]
    [InlineData("postgres")]
    public async Task Retained_messages_changed_through_the_api_survive_a_restart(string provider)
    {
        var settings = await StorageHost.SettingsAsync(provider, _data.Path, postgres);

        using (var host = new StorageHost(settings))
        {
            var admin = await host.AdminAsync();
            await using (var device = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "retaining-device"))
            {
                await device.PublishAndWaitAsync("api/deleted", "set over MQTT", retain: true);
            }

            var set = await admin.PutAsJsonAsync("/api/v1/retained/api/set", new { payload = "set through the API", qos = 1 });
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/retained/api/deleted")).StatusCode);
        }

        using (var restarted = new StorageHost(settings))
        {
            var admin = await restarted.AdminAsync();
            var kept = await admin.GetFromJsonAsync<JsonElement>("/api/v1/retained/api/set");
            Assert.Equal("set through the API", kept.GetProperty("payloadText").GetString());
            Assert.Equal(1, kept.GetProperty("qos").GetInt32());
            Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/retained/api/deleted")).StatusCode);

            // And an MQTT subscriber sees the same.
            await using var subscriber = await MqttTestClient.ConnectTcpAsync(restarted.MqttEndpoint, "retained-reader");
            await subscriber.SubscribeAsync("api/#");
            var message = await subscriber.ExpectPublishAsync();
            Assert.Equal(("api/set", "set through the API", true), (message.Topic, message.PayloadText, message.Retain));
            await subscriber.PublishAsync("api/marker", "after the retained ones");
            Assert.Equal("api/marker", (await subscriber.ExpectPublishAsync()).Topic);
        }
    }
}
