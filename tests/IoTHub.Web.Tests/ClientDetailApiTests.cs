using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>
/// The fields a client page needs, in the REST client and session objects: keep-alive, clean start, listener, transport, will,
/// when an offline session ends and why its connection ended, and its counters; read with a real MQTT client over TCP.
/// </summary>
public sealed class ClientDetailApiTests(AdminApiHost host) : IClassFixture<AdminApiHost>
{
    [Fact]
    public async Task A_client_and_then_its_offline_session_show_their_terms_will_counters_and_end()
    {
        var admin = await host.AdminAsync();
        var client = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500);
        await client.ConnectAcceptedAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = "api-detail",
            CleanStart = false,
            KeepAlive = 50,
            Properties = new MqttProperties { SessionExpiryInterval = 900 },
            Will = new WillMessage
            {
                Topic = "api-detail/status", Payload = Encoding.UTF8.GetBytes("gone"), QualityOfService = QualityOfService.AtLeastOnce,
                Properties = new MqttProperties { WillDelayInterval = 20 },
            },
        });
        await client.SubscribeAsync("api-detail/in/#", QualityOfService.AtLeastOnce);
        await client.PublishAndWaitAsync("api-detail/out", "abcd");
        await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "api-detail/in/x", payload = "hello" });
        await client.ExpectPublishAsync();

        var details = await admin.GetFromJsonAsync<JsonElement>("/api/v1/clients/api-detail");
        var summary = details.GetProperty("client");
        Assert.Equal(50, summary.GetProperty("keepAlive").GetInt32());
        Assert.False(summary.GetProperty("cleanStart").GetBoolean());
        Assert.StartsWith("tcp://", details.GetProperty("listener").GetString(), StringComparison.Ordinal);
        Assert.Equal("Tcp", details.GetProperty("transport").GetString());
        var will = details.GetProperty("will");
        Assert.Equal(("api-detail/status", 1, false, 20), (will.GetProperty("topic").GetString(), will.GetProperty("qos").GetInt32(),
            will.GetProperty("retain").GetBoolean(), will.GetProperty("delay").GetInt32()));
        Assert.Equal(JsonValueKind.Null, details.GetProperty("lastDisconnectReason").ValueKind);
        var counters = summary.GetProperty("counters");
        Assert.Equal(1, counters.GetProperty("messagesIn").GetInt64());
        Assert.Equal(1, counters.GetProperty("messagesOut").GetInt64());
        Assert.True(counters.GetProperty("bytesIn").GetInt64() > 0 && counters.GetProperty("bytesOut").GetInt64() > 0, counters.ToString());
        Assert.Equal(["queue_full", "expired", "too_large", "offline_qos0", "publish_refused"],
            counters.GetProperty("dropped").EnumerateObject().Select(static p => p.Name));

        var listed = await admin.GetFromJsonAsync<JsonElement>("/api/v1/sessions?clientId=api-detail&clientIdMatch=Exact");
        var connected = Assert.Single(listed.GetProperty("items").EnumerateArray());
        Assert.Equal(50, connected.GetProperty("keepAlive").GetInt32());
        Assert.Equal(JsonValueKind.Null, connected.GetProperty("expiresAt").ValueKind);

        await client.DisconnectAsync();
        await client.DisposeAsync();
        await Poll.UntilAsync(async () => !(await admin.GetFromJsonAsync<JsonElement>("/api/v1/sessions/api-detail")).GetProperty("connected").GetBoolean());
        var session = await admin.GetFromJsonAsync<JsonElement>("/api/v1/sessions/api-detail");
        Assert.Equal("DISCONNECT", session.GetProperty("lastDisconnectReason").GetString());
        var disconnectedAt = session.GetProperty("disconnectedAt").GetDateTimeOffset();
        Assert.Equal(disconnectedAt.AddSeconds(900), session.GetProperty("expiresAt").GetDateTimeOffset());
        Assert.InRange(disconnectedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow);
        Assert.Equal(JsonValueKind.Null, session.GetProperty("keepAlive").ValueKind);
        Assert.Equal(1, session.GetProperty("counters").GetProperty("messagesIn").GetInt64());

        // Offline, a QoS 0 message is not queued: counted as its drop.
        await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "api-detail/in/y", payload = "lost", qos = 0 });
        session = await admin.GetFromJsonAsync<JsonElement>("/api/v1/sessions/api-detail");
        Assert.Equal(1, session.GetProperty("counters").GetProperty("dropped").GetProperty("offline_qos0").GetInt64());
        await admin.DeleteAsync("/api/v1/sessions/api-detail");
    }
}
