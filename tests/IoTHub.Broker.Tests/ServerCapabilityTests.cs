using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>What the server announces in an MQTT 5.0 CONNACK, and how it holds clients to it (§3.2.2.3).</summary>
public sealed class ServerCapabilityTests : IAsyncLifetime
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    private MqttBroker _broker = TestBroker.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    private async Task UseBrokerAsync(Action<BrokerOptions> configure)
    {
        await _broker.DisposeAsync();
        _broker = TestBroker.Start(configure);
    }

    // [MQTT-3.2.2-21]: the client must use the Server Keep Alive.
    [Fact]
    public async Task Server_keep_alive_overrides_the_clients()
    {
        await UseBrokerAsync(o => o.ServerKeepAlive = 1);
        await using var client = await PipeClient.ConnectAsync(_broker, "c", V5, keepAlive: 0);
        Assert.Equal((ushort)1, client.LastConnAck!.Properties!.ServerKeepAlive);

        var packets = await client.DrainUntilClosedAsync();
        Assert.Equal(ReasonCode.KeepAliveTimeout, Assert.IsType<DisconnectPacket>(Assert.Single(packets).Control).ReasonCode);
    }

    // Mqtt:MaximumKeepAlive, as Mosquitto's max_keepalive and the Paho 5.0 test test_server_keep_alive (maximum 60):
    // a 5.0 client asking for more, or for none, is given the maximum as Server Keep Alive [MQTT-3.2.2-21].
    [Theory]
    [InlineData(120, 60)]
    [InlineData(0, 60)]
    [InlineData(60, null)]
    [InlineData(30, null)]
    public async Task A_v5_keep_alive_above_the_maximum_is_lowered_to_it(int requested, int? announced)
    {
        await UseBrokerAsync(o => o.MaximumKeepAlive = 60);
        await using var client = await PipeClient.ConnectAsync(_broker, "c", V5, keepAlive: (ushort)requested);
        Assert.Equal(announced, client.LastConnAck!.Properties!.ServerKeepAlive);
    }

    // 3.1.1 cannot announce another keep-alive: a client asking for more than the maximum is refused with 0x02, as Mosquitto does.
    [Theory]
    [InlineData(MqttProtocolVersion.V311, 61)]
    [InlineData(MqttProtocolVersion.V311, 0)]
    [InlineData(MqttProtocolVersion.V310, 3600)]
    public async Task A_v3_keep_alive_above_the_maximum_is_refused(MqttProtocolVersion version, int requested)
    {
        await UseBrokerAsync(o => o.MaximumKeepAlive = 60);
        await using var refused = PipeClient.Open(_broker, version);
        var connAck = await refused.ConnectRawAsync(new ConnectPacket { ProtocolVersion = version, ClientId = "c", KeepAlive = (ushort)requested });
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, connAck.ReasonCode);
        await refused.ExpectClosedAsync();

        await using var accepted = await PipeClient.ConnectAsync(_broker, "d", version, keepAlive: 60);
        Assert.Equal(ReasonCode.Success, accepted.LastConnAck!.ReasonCode);
    }

    // By default (65 535) nothing changes: keep-alive 0 means none, for every version.
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task By_default_every_keep_alive_is_accepted(MqttProtocolVersion version)
    {
        await using var none = await PipeClient.ConnectAsync(_broker, "none", version, keepAlive: 0);
        await using var longest = await PipeClient.ConnectAsync(_broker, "longest", version, keepAlive: ushort.MaxValue);
        Assert.Equal(ReasonCode.Success, none.LastConnAck!.ReasonCode);
        Assert.Null(longest.LastConnAck!.Properties?.ServerKeepAlive);
    }

    // [MQTT-3.2.2-11] [MQTT-3.2.2-12]: above the Maximum QoS, PUBLISH gets 0x9B, a will is refused with 0x9B; SUBSCRIBE is downgraded.
    [Fact]
    public async Task Maximum_qos_is_announced_and_enforced()
    {
        await UseBrokerAsync(o => o.MaximumQoS = QualityOfService.AtLeastOnce);
        await using var client = await PipeClient.ConnectAsync(_broker, "c", V5);
        Assert.Equal((byte)1, client.LastConnAck!.Properties!.MaximumQoS);
        Assert.Equal([ReasonCode.GrantedQoS1], (await client.SubscribeAsync("t", QualityOfService.ExactlyOnce)).ReasonCodes);

        await client.PublishAsync("t", "x", QualityOfService.ExactlyOnce);
        Assert.Equal(ReasonCode.QoSNotSupported, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);

        await using var withWill = PipeClient.Open(_broker, V5);
        var connAck = await withWill.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = V5,
            ClientId = "w",
            Will = new WillMessage { Topic = "w", Payload = [1], QualityOfService = QualityOfService.ExactlyOnce },
        });
        Assert.Equal(ReasonCode.QoSNotSupported, connAck.ReasonCode);
    }

    // [MQTT-3.2.2-13] [MQTT-3.2.2-14]: without Retain Available, a retained PUBLISH gets 0x9A.
    [Fact]
    public async Task Retain_unavailable_is_announced_and_enforced()
    {
        await UseBrokerAsync(o => o.RetainAvailable = false);
        await using var v5 = await PipeClient.ConnectAsync(_broker, "v5", V5);
        Assert.False(v5.LastConnAck!.Properties!.RetainAvailable);
        await v5.PublishAsync("t", "x", retain: true);
        Assert.Equal(ReasonCode.RetainNotSupported, (await v5.ExpectAsync<DisconnectPacket>()).ReasonCode);

        // 3.1.1 cannot be told: the message is delivered but not kept.
        await using var v3 = await PipeClient.ConnectAsync(_broker, "v3");
        await v3.SubscribeAsync("t");
        await v3.PublishAndWaitAsync("t", "live", retain: true);
        Assert.Equal("live", (await v3.ExpectPublishAsync()).PayloadText);
        Assert.Null(_broker.Retained.Get("t"));
    }

    // §3.1.2.11.7 / §3.2.2.3.15: Response Information only to clients that ask for it.
    [Fact]
    public async Task Response_information_is_returned_when_requested()
    {
        await UseBrokerAsync(o => o.ResponseInformation = "replies/{clientId}");
        await using var asks = await PipeClient.ConnectAsync(_broker, "asker", V5, properties: new MqttProperties { RequestResponseInformation = true });
        await using var silent = await PipeClient.ConnectAsync(_broker, "quiet", V5);

        Assert.Equal("replies/asker", asks.LastConnAck!.Properties!.ResponseInformation);
        Assert.Null(silent.LastConnAck!.Properties!.ResponseInformation);
    }

    // §4.11: redirection with 0x9C / 0x9D and a Server Reference.
    [Theory]
    [InlineData(ServerRedirect.UseAnotherServer, ReasonCode.UseAnotherServer)]
    [InlineData(ServerRedirect.ServerMoved, ReasonCode.ServerMoved)]
    public async Task Clients_are_redirected_when_configured(ServerRedirect redirect, ReasonCode expected)
    {
        await UseBrokerAsync(o =>
        {
            o.Redirect = redirect;
            o.ServerReference = "other.example:1883";
        });

        await using var v5 = PipeClient.Open(_broker, V5);
        var connAck = await v5.ConnectRawAsync(new ConnectPacket { ProtocolVersion = V5, ClientId = "c" });
        Assert.Equal(expected, connAck.ReasonCode);
        Assert.Equal("other.example:1883", connAck.Properties!.ServerReference);

        await using var v3 = PipeClient.Open(_broker);
        Assert.Equal(ReasonCode.ServerUnavailable, (await v3.ConnectRawAsync(new ConnectPacket { ClientId = "c3" })).ReasonCode);
    }

    // §4.12: an authentication method no provider supports gets 0x8C.
    [Fact]
    public async Task Unknown_authentication_method_is_refused_with_0x8C()
    {
        await using var client = PipeClient.Open(_broker, V5);
        var connAck = await client.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = V5,
            ClientId = "c",
            Properties = new MqttProperties { AuthenticationMethod = "SCRAM-SHA-256", AuthenticationData = [1, 2] },
        });

        Assert.Equal(ReasonCode.BadAuthenticationMethod, connAck.ReasonCode);
        Assert.False(string.IsNullOrEmpty(connAck.Properties!.ReasonString));
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task Server_disconnects_say_why_in_a_reason_string()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, "c", V5);
        await client.SendAsync(new ConnectPacket { ProtocolVersion = V5, ClientId = "c" });

        var disconnect = await client.ExpectAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.ProtocolError, disconnect.ReasonCode);
        Assert.Equal("second CONNECT on one connection", disconnect.Properties!.ReasonString);
    }
}
