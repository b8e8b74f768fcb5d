namespace IoTHub.Interop.Tests;

/// <summary>
/// Sessions that outlive their connection: QoS 1 and 2 messages published while the client is offline are
/// kept and delivered when it comes back (3.1.1 [MQTT-3.1.2-4], [MQTT-3.1.2-5]; 5.0 [MQTT-3.1.2-23]),
/// Session Present says so (3.1.1 [MQTT-3.2.2-2]), and a clean session starts empty (3.1.1 [MQTT-3.1.2-6],
/// [MQTT-3.2.2-1]).
/// </summary>
public sealed class PersistentSessionTests(InteropHost host) : IClassFixture<InteropHost>
{
    [Fact]
    public async Task Paho_with_clean_session_false_gets_the_messages_queued_while_it_was_offline()
    {
        const string clientId = "paho-persistent";
        const string topic = "session/paho/queue";
        using (var first = Paho.Subscribe(host, Protocol.V311, clientId, count: 0, [topic + ":2"], clean: false))
        {
            await first.WaitForSuccessAsync();
            Assert.False(Paho.SessionPresent(first));
        }

        await Mosquitto.PublishAsync(host, Protocol.V311, topic, qos: 1, retain: false, "while offline 1");
        await Mosquitto.PublishAsync(host, Protocol.V311, topic, qos: 2, retain: false, "while offline 2");

        // Back without subscribing again: the subscription and the queue are the session's.
        using (var back = Paho.Subscribe(host, Protocol.V311, clientId, count: 2, [], clean: false))
        {
            await back.WaitForSuccessAsync();
            Assert.True(Paho.SessionPresent(back));
            Assert.Equal([new Received(topic, "while offline 1", 1, false), new Received(topic, "while offline 2", 2, false)],
                Paho.Messages(back).Select(m => m with { Duplicate = false }));
        }

        // Clean session 1 discards the session, so a later clean session 0 finds none.
        using (var clean = Paho.Subscribe(host, Protocol.V311, clientId, count: 0, [], clean: true))
        {
            await clean.WaitForSuccessAsync();
            Assert.False(Paho.SessionPresent(clean));
        }

        using var after = Paho.Subscribe(host, Protocol.V311, clientId, count: 0, [], clean: false);
        await after.WaitForSuccessAsync();
        Assert.False(Paho.SessionPresent(after));
    }

    [Fact]
    public async Task MQTTnet_v5_with_a_session_expiry_interval_gets_the_messages_queued_while_it_was_offline()
    {
        const string clientId = "mqttnet-v5-persistent";
        const string topic = "session/mqttnet/queue";
        await using (var first = await MqttNetClient.ConnectAsync(host, Protocol.V500, clientId, clean: true, sessionExpiry: 300))
        {
            Assert.False(first.ConnectResult.IsSessionPresent);
            await first.SubscribeAsync(topic, 2);
            await first.DisconnectAsync();
        }

        await Paho.PublishAsync(host, Protocol.V500, topic, qos: 1, retain: false, "q1 a", "q1 b");
        await Paho.PublishAsync(host, Protocol.V500, topic, qos: 2, retain: false, "q2 c");

        await using var back = await MqttNetClient.ConnectAsync(host, Protocol.V500, clientId, clean: false, sessionExpiry: 300);
        Assert.True(back.ConnectResult.IsSessionPresent);
        Assert.Equal(
            [new Received(topic, "q1 a", 1, false), new Received(topic, "q1 b", 1, false), new Received(topic, "q2 c", 2, false)],
            await back.WaitForMessagesAsync(3));
    }

    /// <summary>5.0: Session Expiry Interval 0 (or absent) ends the session with the connection ([MQTT-3.1.2-23] read the other way).</summary>
    [Fact]
    public async Task MQTTnet_v5_without_a_session_expiry_interval_finds_no_session_after_reconnecting()
    {
        const string clientId = "mqttnet-v5-no-expiry";
        const string topic = "session/mqttnet/no-expiry";
        await using (var first = await MqttNetClient.ConnectAsync(host, Protocol.V500, clientId, clean: true, sessionExpiry: 0))
        {
            await first.SubscribeAsync(topic, 1);
            await first.DisconnectAsync();
        }

        await Paho.PublishAsync(host, Protocol.V500, topic, qos: 1, retain: false, "nobody is there");

        await using var back = await MqttNetClient.ConnectAsync(host, Protocol.V500, clientId, clean: false, sessionExpiry: 300);
        Assert.False(back.ConnectResult.IsSessionPresent);

        // Nothing queued and no subscription left: a message published now on the same topic does not come either;
        // a fresh subscription on another topic proves the connection delivers.
        await back.SubscribeAsync(topic + "/probe", 1);
        await Paho.PublishAsync(host, Protocol.V500, topic, qos: 1, retain: false, "still nobody");
        await Paho.PublishAsync(host, Protocol.V500, topic + "/probe", qos: 1, retain: false, "probe");
        Assert.Equal([new Received(topic + "/probe", "probe", 1, false)], await back.WaitForMessagesAsync(1));
    }

    /// <summary>mosquitto_sub -c (clean session 0) comes back to the messages queued for it, over 3.1.1 and 5.0.</summary>
    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Mosquitto_sub_with_clean_session_false_gets_the_messages_queued_while_it_was_offline(Protocol protocol)
    {
        var clientId = $"mosquitto-persistent-{protocol}";
        var topic = $"session/mosquitto/{protocol}";
        using (var first = Mosquitto.SubscribeWith(host, protocol, "-c", "-i", clientId, "-q", "1", "-t", topic, "-E"))
        {
            await first.WaitForSuccessAsync(); // -E: exits once subscribed
        }

        await using (var publisher = await MqttNetClient.ConnectAsync(host, protocol, $"mosquitto-persistent-pub-{protocol}"))
        {
            await publisher.PublishAsync(topic, "queued 1", qos: 1);
            await publisher.PublishAsync(topic, "queued 2", qos: 2);
        }

        using var back = Mosquitto.SubscribeWith(host, protocol, "-c", "-i", clientId, "-q", "1", "-t", topic, "-C", "2", "-W", "30");
        await back.WaitForSuccessAsync();
        Assert.Equal([new Received(topic, "queued 1", 1, false), new Received(topic, "queued 2", 1, false)], Mosquitto.Messages(back));
    }

    /// <summary>
    /// A QoS 1 message MQTTnet received but never acknowledged is sent again after the reconnect, with the same
    /// packet identifier ([MQTT-4.4.0-1], both versions) and DUP set (3.1.1 [MQTT-3.3.1-1]).
    /// </summary>
    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task QoS1_message_MQTTnet_did_not_acknowledge_is_sent_again_with_DUP_after_reconnecting(Protocol protocol)
    {
        var clientId = $"mqttnet-unacked-{protocol}";
        var topic = $"session/unacked/{protocol}";
        ushort packetId;
        await using (var first = await MqttNetClient.ConnectAsync(host, protocol, clientId, clean: false, sessionExpiry: 300))
        {
            first.Acknowledge = false;
            await first.SubscribeAsync(topic, 1);
            await Mosquitto.PublishAsync(host, protocol, topic, qos: 1, retain: false, "not acknowledged");
            Assert.Equal([new Received(topic, "not acknowledged", 1, false)], await first.WaitForMessagesAsync(1));
            packetId = first.PacketIds[0];
            await first.DisconnectAsync();
        }

        await using var back = await MqttNetClient.ConnectAsync(host, protocol, clientId, clean: false, sessionExpiry: 300);
        Assert.True(back.ConnectResult.IsSessionPresent);
        Assert.Equal([new Received(topic, "not acknowledged", 1, false, Duplicate: true)], await back.WaitForMessagesAsync(1));
        Assert.Equal([packetId], back.PacketIds);
    }

    /// <summary>
    /// 3.1.1 [MQTT-3.1.2-6]: a Clean Session 1 session "lasts as long as the Network Connection. State data
    /// associated with this Session MUST NOT be reused in any subsequent Session". Here a Clean Session 0
    /// connection with the same client id takes over while the clean one is still open (3.1.1
    /// [MQTT-3.1.4-2] closes the old one): it must start without that state, so Session Present is 0
    /// (3.1.1 [MQTT-3.2.2-2]) and neither the clean session's subscription nor its unacknowledged message
    /// comes along.
    /// </summary>
    [Fact]
    public async Task Clean_session_state_is_not_reused_by_a_clean_session_0_connection_that_takes_over()
    {
        const string clientId = "takeover-of-a-clean-session";
        const string topic = "session/takeover/clean";
        await using var clean = await MqttNetClient.ConnectAsync(host, Protocol.V311, clientId, clean: true);
        clean.Acknowledge = false;
        await clean.SubscribeAsync(topic, 1);
        await Mosquitto.PublishAsync(host, Protocol.V311, topic, qos: 1, retain: false, "for the clean session only");
        await clean.WaitForMessagesAsync(1); // in flight: never acknowledged

        // paho takes the client id over with clean_session=False, subscribes to a probe topic and waits for one message.
        using var persistent = Paho.Subscribe(host, Protocol.V311, clientId, count: 1, [topic + "/probe:1"], clean: false);
        await Paho.WaitUntilSubscribedAsync(persistent);
        await Mosquitto.PublishAsync(host, Protocol.V311, topic, qos: 1, retain: false, "after the takeover");
        await Mosquitto.PublishAsync(host, Protocol.V311, topic + "/probe", qos: 1, retain: false, "probe");
        await persistent.WaitForSuccessAsync();

        Assert.False(Paho.SessionPresent(persistent), "Session Present 1: the clean session's state was resumed. " + persistent.Describe());
        Assert.Equal([new Received(topic + "/probe", "probe", 1, false)], Paho.Messages(persistent));
    }
}
