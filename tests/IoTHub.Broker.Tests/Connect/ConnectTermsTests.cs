using IoTHub.Broker.Connect;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>What an accepted CONNECT settles (5.0 §3.1.2.10-11, §3.2.2.3), computed directly from the options and the packet.</summary>
public sealed class ConnectTermsTests
{
    private static ConnectTerms Negotiate(BrokerOptions options, ConnectPacket connect, bool assigned = false, bool keepAliveTooLong = false) =>
        ConnectTerms.Negotiate(options, connect, new AdmittedConnect(connect.ClientId, assigned, keepAliveTooLong, Will: null));

    // [MQTT-3.2.2-21]: a 5.0 client asking for more than the maximum keep-alive gets Server Keep Alive set to it.
    [Fact]
    public void A_50_client_asking_too_long_a_keep_alive_is_told_the_maximum()
    {
        var terms = Negotiate(new BrokerOptions { MaximumKeepAlive = 60 },
            new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "dev", KeepAlive = 600 }, keepAliveTooLong: true);

        Assert.Equal(60, terms.KeepAlive);
        Assert.Equal((ushort)60, terms.ConnAck.Properties!.ServerKeepAlive);
    }

    // 5.0 §3.1.2.11.3 [MQTT-3.3.4-9]: never more QoS 1/2 messages in flight to the client than its Receive Maximum; its
    // Maximum Packet Size and Topic Alias Maximum bound what is sent to it.
    [Fact]
    public void The_clients_limits_bound_what_is_sent_to_it()
    {
        var connect = new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = "dev",
            Properties = new MqttProperties { ReceiveMaximum = 5, MaximumPacketSize = 1_000, TopicAliasMaximum = 7, SessionExpiryInterval = 120 },
        };

        var terms = Negotiate(new BrokerOptions { MaximumInflightMessages = 32 }, connect);

        Assert.Equal(5, terms.Window);
        Assert.Equal(1_000, terms.ClientMaximumPacketSize);
        Assert.Equal(7, terms.TopicAliasMaximum);
        Assert.Equal(120u, terms.SessionExpiryInterval);
    }

    // 3.1.1 §3.1.2.4: Clean Session 0 keeps the session (for the broker's configured lifetime), 1 ends it with the connection.
    [Theory]
    [InlineData(false, 3_600u)]
    [InlineData(true, 0u)]
    public void A_311_session_lives_for_the_configured_lifetime_unless_clean(bool cleanSession, uint expected)
    {
        var terms = Negotiate(new BrokerOptions { PersistentSessionLifetime = TimeSpan.FromHours(1) },
            new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V311, ClientId = "dev", CleanStart = cleanSession });

        Assert.Equal(expected, terms.SessionExpiryInterval);
        Assert.Null(terms.ConnAck.Properties);
    }

    // [MQTT-3.2.2-16], §3.2.2.3.15: an assigned client id is told in CONNACK; Response Information only when asked for.
    [Fact]
    public void The_connack_tells_an_assigned_id_and_response_information_when_asked()
    {
        var connect = new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = "iothub-1",
            Properties = new MqttProperties { RequestResponseInformation = true },
        };

        var terms = Negotiate(new BrokerOptions { ResponseInformation = "replies/{clientId}" }, connect, assigned: true);

        Assert.Equal("iothub-1", terms.ConnAck.Properties!.AssignedClientIdentifier);
        Assert.Equal("replies/iothub-1", terms.ConnAck.Properties.ResponseInformation);
        Assert.Null(Negotiate(new BrokerOptions(), new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "dev" }).ConnAck.Properties!
            .AssignedClientIdentifier);
    }
}
