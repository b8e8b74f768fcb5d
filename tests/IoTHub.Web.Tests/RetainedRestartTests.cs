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

        DateTimeOffset before, after;
        using (var host = new StorageHost(settings))
        {
            var admin = await host.AdminAsync();
            before = DateTimeOffset.UtcNow.AddMilliseconds(-1);
            await using (var device = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "retaining-device"))
            {
                await device.PublishAndWaitAsync("api/deleted", "set over MQTT", retain: true);
            }

            await using (var meter = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint))
            {
                await meter.ConnectAcceptedAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V311, ClientId = "meter-7", UserName = "meter-user", CleanStart = true });
                await meter.PublishAndWaitAsync("api/from-meter", "12.5", retain: true);
            }

            var set = await admin.PutAsJsonAsync("/api/v1/retained/api/set", new { payload = "set through the API", qos = 1 });
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/retained/api/deleted")).StatusCode);
            after = DateTimeOffset.UtcNow.AddMilliseconds(1);
        }

        using (var restarted = new StorageHost(settings))
        {
            var admin = await restarted.AdminAsync();
            var kept = await admin.GetFromJsonAsync<JsonElement>("/api/v1/retained/api/set");
            Assert.Equal("set through the API", kept.GetProperty("payloadText").GetString());
            Assert.Equal(1, kept.GetProperty("qos").GetInt32());
            Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/retained/api/deleted")).StatusCode);

            // When each was kept and by whom: a client's id and user name; nobody's for the API's (the audit log says who).
            var fromMeter = await admin.GetFromJsonAsync<JsonElement>("/api/v1/retained/api/from-meter");
            Assert.Equal(("meter-7", "meter-user"), (fromMeter.GetProperty("publisherClientId").GetString(), fromMeter.GetProperty("publisherUserName").GetString()));
            Assert.Equal(JsonValueKind.Null, kept.GetProperty("publisherClientId").ValueKind);
            Assert.Equal(JsonValueKind.Null, kept.GetProperty("publisherUserName").ValueKind);
            foreach (var storedAt in new[] { fromMeter, kept }.Select(static m => m.GetProperty("storedAt").GetDateTimeOffset()))
            {
                Assert.InRange(storedAt, before, after);
            }

            // And an MQTT subscriber sees the same.
            await using var subscriber = await MqttTestClient.ConnectTcpAsync(restarted.MqttEndpoint, "retained-reader");
            await subscriber.SubscribeAsync("api/#");
            var messages = new[] { await subscriber.ExpectPublishAsync(), await subscriber.ExpectPublishAsync() }.OrderBy(static m => m.Topic, StringComparer.Ordinal);
            Assert.Equal([("api/from-meter", "12.5", true), ("api/set", "set through the API", true)], messages.Select(static m => (m.Topic, m.PayloadText, m.Retain)));
            await subscriber.PublishAsync("api/marker", "after the retained ones");
            Assert.Equal("api/marker", (await subscriber.ExpectPublishAsync()).Topic);
        }
    }
}
