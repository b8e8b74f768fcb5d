using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MQTTnet;
using static IoTHub.Interop.Tests.Security.ClientRightsChecks;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 18: an accepted token's <c>acl</c> claim (EMQX's list form) gives the client its own access rules, and the
/// claim named by RolesClaim its roles, with real MQTTnet 5.0 clients and Security:AclDefault deny: PUBACK 0x87 for a
/// refused PUBLISH (5.0 §3.4.2.1), SUBACK 0x87 for a refused filter (5.0 §3.9.3); a claim of another form is a backend
/// failure (0x88).
/// </summary>
public sealed class JwtRightsTests(JwtRightsHost fixture) : IClassFixture<JwtRightsHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Fact]
    public async Task The_acl_claim_allows_the_client_its_own_topics_only()
    {
        var acl = JsonSerializer.SerializeToElement(new object[]
        {
            new { permission = "allow", action = "publish", topic = "devices/${clientid}/#" },
            new { permission = "allow", action = "subscribe", topic = "commands/${username}" },
        });
        await using var device = await ConnectAsync("jwt-dev-7", "dev-7", new Dictionary<string, object> { ["acl"] = acl });

        // Accepted: 0x10 No matching subscribers (5.0 §3.4.2.1), as nobody reads it.
        Assert.Equal(MqttClientPublishReasonCode.NoMatchingSubscribers, await PublishAsync(device, "devices/jwt-dev-7/telemetry"));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await PublishAsync(device, "devices/jwt-dev-8/telemetry"));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await SubscribeAsync(device, "commands/dev-7"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(device, "commands/dev-8"));

        // A token without the claim: the default denies.
        await using var plain = await ConnectAsync("jwt-plain", "plain", claims: null);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await PublishAsync(plain, "devices/jwt-plain/telemetry"));
    }

    [Fact]
    public async Task The_roles_claim_gives_the_client_the_roles_stored_rules()
    {
        using (var admin = await AdminClient.LoginAsync(_host))
        {
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/roles", new { name = "readers" })).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/acl-rules",
                new { scope = "role", role = "readers", permission = "allow", action = "subscribe", topicFilter = "news/#" })).StatusCode);
        }

        await using var listed = await ConnectAsync("jwt-reader-1", "reader-1", new Dictionary<string, object> { ["roles"] = new[] { "operators", "readers" } });
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await SubscribeAsync(listed, "news/#"));
        await using var single = await ConnectAsync("jwt-reader-2", "reader-2", new Dictionary<string, object> { ["roles"] = "readers" });
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await SubscribeAsync(single, "news/#"));
        await using var none = await ConnectAsync("jwt-reader-3", "reader-3", claims: null);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(none, "news/#"));
    }

    [Theory]
    [InlineData("acl")]
    [InlineData("roles")]
    public async Task A_claim_of_another_form_is_a_backend_failure(string claim)
    {
        // EMQX's older acl form (an object of lists), and roles that are not strings.
        object value = claim == "acl" ? JsonSerializer.SerializeToElement(new { pub = new[] { "t/#" } }) : new[] { 1, 2 };
        var token = Tokens.Make(JwtSecretHost.Credentials, "bad-claim", "jwt-bad-claim", claims: new Dictionary<string, object> { [claim] = value });
        var refused = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "jwt-bad-claim", "bad-claim", token));
        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, refused.ResultCode);
    }

    private Task<MqttNetClient> ConnectAsync(string clientId, string userName, Dictionary<string, object>? claims) =>
        MqttNetClient.ConnectAsync(_host, Protocol.V500, clientId, userName: userName,
            password: Tokens.Make(JwtSecretHost.Credentials, userName, clientId, claims: claims));
}
