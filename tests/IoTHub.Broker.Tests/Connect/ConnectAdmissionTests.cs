using IoTHub.Broker.Connect;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>
/// What the broker decides about a CONNECT before the authenticator (3.1.1 §3.1, 5.0 §3.1, §3.2.2): called directly,
/// without a connection. The answers on the wire are in ConnectTests.
/// </summary>
public sealed class ConnectAdmissionTests : IAsyncDisposable
{
    private MqttBroker _broker = TestBroker.Start();

    public ValueTask DisposeAsync() => _broker.DisposeAsync();

    private ConnectRefusal? Check(ConnectPacket connect, out AdmittedConnect admitted) => _broker.Admission.Check(connect, out admitted);

    private static ConnectPacket Connect(MqttProtocolVersion version, string clientId = "dev", bool cleanStart = true, ushort keepAlive = 60,
        WillMessage? will = null) =>
        new() { ProtocolVersion = version, ClientId = clientId, CleanStart = cleanStart, KeepAlive = keepAlive, Will = will };

    // 3.1.1 [MQTT-3.1.3-8]: an empty client id with Clean Session 0 is refused with 0x02; 5.0 [MQTT-3.1.3-6] assigns one.
    [Fact]
    public void An_empty_client_id_is_assigned_one_where_the_version_allows_it()
    {
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, Check(Connect(MqttProtocolVersion.V311, "", cleanStart: false), out _)!.ReasonCode);
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, Check(Connect(MqttProtocolVersion.V310, ""), out _)!.ReasonCode);

        Assert.Null(Check(Connect(MqttProtocolVersion.V500, "", cleanStart: false), out var admitted));
        Assert.True(admitted.Assigned);
        Assert.StartsWith("iothub-", admitted.ClientId, StringComparison.Ordinal);
    }

    // MQTT 3.1 §3.1: client ids of 1 to 23 characters.
    [Fact]
    public void An_mqtt_31_client_id_longer_than_23_characters_is_refused() =>
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, Check(Connect(MqttProtocolVersion.V310, new string('c', 24)), out _)!.ReasonCode);

    // Issue 14, defect 4: a 3.1.1 client asking for more than Mqtt:MaximumKeepAlive is refused (it cannot be told another
    // value); a 5.0 one is admitted and gets Server Keep Alive [MQTT-3.2.2-21] (see ConnectTermsTests).
    [Fact]
    public async Task A_keep_alive_above_the_maximum_refuses_311_and_is_noted_for_50()
    {
        await _broker.DisposeAsync();
        _broker = TestBroker.Start(o => o.MaximumKeepAlive = 60);

        Assert.Equal(ReasonCode.ClientIdentifierNotValid, Check(Connect(MqttProtocolVersion.V311, keepAlive: 61), out _)!.ReasonCode);
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, Check(Connect(MqttProtocolVersion.V311, keepAlive: 0), out _)!.ReasonCode);
        Assert.Null(Check(Connect(MqttProtocolVersion.V311, keepAlive: 60), out var within));
        Assert.False(within.KeepAliveTooLong);

        Assert.Null(Check(Connect(MqttProtocolVersion.V500, keepAlive: 61), out var admitted));
        Assert.True(admitted.KeepAliveTooLong);
    }

    // [MQTT-3.2.2-12]: a will above the Maximum QoS is refused with 0x9B; a will to a '$' topic with 0x90 (3.1.1: 0x05);
    // an acceptable will is kept for the connection's end [MQTT-3.1.2-8].
    [Fact]
    public async Task The_will_is_checked_and_kept()
    {
        await _broker.DisposeAsync();
        _broker = TestBroker.Start(o => o.MaximumQoS = QualityOfService.AtLeastOnce);

        var tooHigh = new WillMessage { Topic = "wills/dev", QualityOfService = QualityOfService.ExactlyOnce };
        Assert.Equal(ReasonCode.QoSNotSupported, Check(Connect(MqttProtocolVersion.V500, will: tooHigh), out _)!.ReasonCode);

        var reserved = new WillMessage { Topic = "$SYS/x", QualityOfService = QualityOfService.AtMostOnce };
        Assert.Equal(ReasonCode.TopicNameInvalid, Check(Connect(MqttProtocolVersion.V500, will: reserved), out _)!.ReasonCode);
        Assert.Equal(ReasonCode.NotAuthorized, Check(Connect(MqttProtocolVersion.V311, will: reserved), out _)!.ReasonCode);

        var fine = new WillMessage { Topic = "wills/dev", QualityOfService = QualityOfService.AtLeastOnce };
        Assert.Null(Check(Connect(MqttProtocolVersion.V500, will: fine), out var admitted));
        Assert.NotNull(admitted.Will);
    }

    // 5.0 §4.12: an Authentication Method is the authenticator's to take or refuse (0x8C), not admission's.
    [Fact]
    public void An_authentication_method_is_left_to_the_authenticator()
    {
        var connect = Connect(MqttProtocolVersion.V500);
        connect.Properties = new MqttProperties { AuthenticationMethod = "SCRAM-SHA-1" };

        Assert.Null(Check(connect, out _));
    }

    // [MQTT-3.1.4-6] / 5.0 §3.2.2.2: a broker that stops takes no new session (0x88; 3.1.1 0x03).
    [Fact]
    public async Task A_stopping_broker_admits_nobody()
    {
        await _broker.StopAsync(TimeSpan.Zero);

        Assert.Equal(ReasonCode.ServerUnavailable, Check(Connect(MqttProtocolVersion.V500), out _)!.ReasonCode);
    }
}
