using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests;

/// <summary>
/// What the broker tells an MQTTnet 5.0 client in CONNACK, as configured: Server Keep Alive, Maximum QoS,
/// Retain Available and Response Information (a host with those settings); redirection with Server
/// Reference (a host with Mqtt:Redirect); an authentication method it does not know refused with 0x8C.
/// Each test starts its own host.
/// </summary>
public sealed class ConnAckPropertiesTests
{
    /// <summary>
    /// Mqtt:ServerKeepAlive=5, Mqtt:MaximumQoS=1, Mqtt:RetainAvailable=false: CONNACK carries Server Keep
    /// Alive 5 in place of the client's 60 ([MQTT-3.2.2-21]), Maximum QoS 1 ([MQTT-3.2.2-9]), Retain Available
    /// 0 (§3.2.2.3.5), and the Response Information asked for (§3.2.2.3.15). A QoS 2 subscription is granted
    /// QoS 1 at most.
    /// </summary>
    [Fact]
    public async Task Server_keep_alive_maximum_QoS_and_retain_available_are_announced_as_configured()
    {
        using var host = new InteropHost(new Dictionary<string, string>
        {
            ["Mqtt:ServerKeepAlive"] = "5",
            ["Mqtt:MaximumQoS"] = "1",
            ["Mqtt:RetainAvailable"] = "false",
            ["Mqtt:ResponseInformation"] = "replies/{clientId}",
        });
        using var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(Options(host, MqttProtocolVersion.V500, "connack-props")
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(60))
            .WithRequestResponseInformation(true)
            .Build());

        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        Assert.Equal(5, result.ServerKeepAlive);
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, result.MaximumQoS);
        Assert.False(result.RetainAvailable);
        Assert.Equal("replies/connack-props", result.ResponseInformation);

        var granted = await client.SubscribeAsync("connack/#", MqttQualityOfServiceLevel.ExactlyOnce);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, granted.Items.Single().ResultCode);
        await client.DisconnectAsync();
    }

    /// <summary>
    /// Mqtt:Redirect=ServerMoved with a Server Reference: MQTTnet 5.0 sees CONNACK 0x9D and the reference
    /// (5.0 §4.11, §3.2.2.3.16); a 3.1.1 client, which has no such code, gets 0x03 Server unavailable.
    /// </summary>
    [Fact]
    public async Task Redirection_refuses_with_server_moved_and_the_server_reference()
    {
        using var host = new InteropHost(new Dictionary<string, string>
        {
            ["Mqtt:Redirect"] = "ServerMoved",
            ["Mqtt:ServerReference"] = "mqtt2.example.net:1883",
        });

        var v5 = await MqttNetClient.RefusedAsync(Options(host, MqttProtocolVersion.V500, "redirected-5"));
        Assert.Equal(MqttClientConnectResultCode.ServerMoved, v5.ResultCode);
        Assert.Equal("mqtt2.example.net:1883", v5.ServerReference);

        var v311 = await MqttNetClient.RefusedAsync(Options(host, MqttProtocolVersion.V311, "redirected-311"));
        Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, v311.ResultCode);
    }

    /// <summary>
    /// A CONNECT with an Authentication Method the broker does not support gets CONNACK 0x8C Bad
    /// authentication method and the connection is closed ([MQTT-4.12.0-1]); the broker keeps no session.
    /// </summary>
    [Fact]
    public async Task Unknown_authentication_method_is_refused_with_bad_authentication_method()
    {
        using var host = new InteropHost();
        var result = await MqttNetClient.RefusedAsync(Options(host, MqttProtocolVersion.V500, "auth-unknown")
            .WithEnhancedAuthentication("SCRAM-SHA-512", [0x6E, 0x2C, 0x2C]));
        Assert.Equal(MqttClientConnectResultCode.BadAuthenticationMethod, result.ResultCode);
        Assert.Null(host.Broker.FindSession("auth-unknown"));
    }

    private static MqttClientOptionsBuilder Options(InteropHost host, MqttProtocolVersion version, string clientId) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer(host.Host, host.Port)
            .WithProtocolVersion(version)
            .WithClientId(clientId)
            .WithTimeout(MqttNetClient.Timeout);
}
