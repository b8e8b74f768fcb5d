using MQTTnet;
using static IoTHub.Interop.Tests.Security.ClientRightsChecks;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// Issue 18: a webhook's allow may carry EMQX's <c>is_superuser</c> and <c>acl</c>, which become the client's own rights
/// for its connection, against a real HTTP server (Kestrel on loopback) and real MQTTnet 5.0 clients, with
/// Security:AclDefault deny: the acl's rules (with <c>${clientid}</c> and <c>${username}</c>, a deny beside an allow,
/// an exact <c>eq</c> filter) decide the client's PUBLISHes (PUBACK 0x87, 5.0 §3.4.2.1), SUBSCRIBEs (SUBACK 0x87, 5.0
/// §3.9.3) and deliveries; a superuser may do everything; an acl the broker cannot read fully is a backend failure.
/// </summary>
public sealed class WebhookRightsTests(WebhookRightsHost fixture) : IClassFixture<WebhookRightsHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Fact]
    public async Task The_acl_allows_the_client_its_own_topics_only()
    {
        await using var watcher = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "rights-watcher", userName: "super-watcher", password: "x");
        await watcher.SubscribeAsync("devices/#", 1);
        await using var device = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "dev-1", userName: "acl-dev", password: "x");

        Assert.Equal(MqttClientPublishReasonCode.Success, await PublishAsync(device, "devices/dev-1/telemetry"));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await PublishAsync(device, "devices/dev-2/telemetry"));
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await PublishAsync(device, "devices/dev-1/secret")); // its deny wins over its allow
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await PublishAsync(device, "elsewhere")); // no rule: the default denies

        // Publish only under devices/dev-1; "eq devices/+/status" grants that very filter, not a topic it matches.
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(device, "devices/dev-1/#"));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await SubscribeAsync(device, "devices/+/status"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(device, "devices/dev-1/status"));

        // ${username}, both actions.
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await SubscribeAsync(device, "users/acl-dev"));
        Assert.Equal(MqttClientPublishReasonCode.Success, await PublishAsync(device, "users/acl-dev"));
        Assert.Equal("users/acl-dev", Assert.Single(await device.WaitForMessagesAsync(1)).Topic);

        // Only the allowed message was routed.
        Assert.Equal(MqttClientPublishReasonCode.Success, await PublishAsync(device, "devices/dev-1/after"));
        Assert.Equal(["devices/dev-1/telemetry", "devices/dev-1/after"], (await watcher.WaitForMessagesAsync(2)).Select(static m => m.Topic));
    }

    [Fact]
    public async Task Is_superuser_allows_everything_under_a_deny_default()
    {
        await using var root = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "rights-root", userName: "super-root", password: "x");
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await SubscribeAsync(root, "#"));
        Assert.Equal(MqttClientPublishReasonCode.Success, await PublishAsync(root, "anything/at/all"));
        Assert.Equal("anything/at/all", Assert.Single(await root.WaitForMessagesAsync(1)).Topic);

        // The same webhook's allow without rights: the default denies.
        await using var plain = await MqttNetClient.ConnectAsync(_host, Protocol.V500, "rights-plain", userName: "allow-plain", password: "x");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, await PublishAsync(plain, "anything/at/all"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await SubscribeAsync(plain, "#"));
    }

    [Fact]
    public async Task An_acl_the_broker_cannot_read_fully_is_a_backend_failure()
    {
        var refused = await MqttNetClient.RefusedAsync(MqttNetClient.Options(_host, Protocol.V500, "rights-bad-acl", "badacl-1", "x"));
        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, refused.ResultCode);
        Assert.Contains(fixture.Logs.Lines, static line => line.EventId == 1160
            && line.Message.Contains("the webhook's acl[0] is not an access rule of EMQX's form: it has the field 'qos'", StringComparison.Ordinal));
    }
}
