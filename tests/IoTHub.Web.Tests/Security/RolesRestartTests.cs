using System.Net;
using System.Net.Http.Json;
using System.Text;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests.Security;

/// <summary>
/// Roles and rules stored through the API are read when the host starts, before it takes clients: after a restart the
/// first client is decided on them (issue 17 milestone 2), on SQLite and on PostgreSQL. With <c>Security:AclDefault=deny</c>
/// a client the stored rules did not reach would be refused everything.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class RolesRestartTests(PostgresServer postgres) : IDisposable
{
    private readonly TempDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Stored_roles_and_rules_decide_the_first_client_after_a_restart(string provider)
    {
        var settings = await StorageHost.SettingsAsync(provider, _data.Path, postgres);
        settings["Security:Authenticators:0:Type"] = "Database";
        settings["Security:AclDefault"] = "deny";

        using (var host = new StorageHost(settings))
        {
            var admin = await host.AdminAsync();
            await RolesApiTests.CreateUserAsync(admin, "restarted-device");
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/roles", new { name = "devices" })).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/acl-rules",
                new { scope = "role", role = "devices", permission = "allow", action = "both", topicFilter = "devices/%u/#" })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/api/v1/mqtt-users/restarted-device/roles", new { roles = new[] { "devices" } })).StatusCode);
        }

        using var restarted = new StorageHost(settings);
        await using var device = await MqttTestClient.OpenTcpAsync(restarted.MqttEndpoint, MqttProtocolVersion.V500);
        await device.ConnectAcceptedAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = "restarted-1",
            UserName = "restarted-device",
            Password = Encoding.UTF8.GetBytes("restarted-device-password"),
        });

        // [MQTT-3.9.3-1] one reason code per filter: the role's own tree granted, anything else 0x87 Not authorized.
        Assert.Equal([ReasonCode.GrantedQoS1, ReasonCode.NotAuthorized],
            (await device.SubscribeAsync("devices/restarted-device/#", QualityOfService.AtLeastOnce)).ReasonCodes
                .Concat((await device.SubscribeAsync("devices/other/#", QualityOfService.AtLeastOnce)).ReasonCodes));
        await device.PublishAsync("devices/other/t", "refused", QualityOfService.AtLeastOnce);
        Assert.Equal(ReasonCode.NotAuthorized, (await device.ExpectAckAsync(PacketType.PubAck)).ReasonCode);
        await device.PublishAsync("devices/restarted-device/t", "allowed", QualityOfService.AtLeastOnce);
        Assert.Equal(ReasonCode.Success, (await device.ExpectAckAsync(PacketType.PubAck)).ReasonCode);
        Assert.Equal("allowed", (await device.ExpectPublishAsync()).PayloadText);
    }
}
