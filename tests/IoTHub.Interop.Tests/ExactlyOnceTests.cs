using IoTHub.Mqtt;

namespace IoTHub.Interop.Tests;

/// <summary>
/// QoS 2 when a connection drops in the middle of a flow, for a persistent session (clean session 0):
/// on reconnect the unacknowledged PUBLISH or PUBREL is sent again with its packet identifier (3.1.1
/// [MQTT-4.4.0-1], 5.0 [MQTT-4.4.0-1]), a re-sent PUBLISH carries DUP (3.1.1 [MQTT-3.3.1-1]), the broker
/// never sends the PUBLISH again once it sent PUBREL (3.1.1 [MQTT-4.3.3-1]) and never forwards a
/// re-sent PUBLISH it already acknowledged with PUBREC (3.1.1 [MQTT-4.3.3-2], 5.0 [MQTT-4.3.3-10]).
/// The dropping side is a raw socket, which can stop at any packet; the other side is a real library
/// whose application must see each message exactly once.
/// </summary>
public sealed class ExactlyOnceTests(InteropHost host) : IClassFixture<InteropHost>
{
    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Subscriber_dropped_before_PUBREC_gets_the_PUBLISH_again_with_DUP_and_paho_sees_it_once(Protocol protocol)
    {
        var clientId = $"qos2-drop-before-pubrec-{protocol}";
        var topic = $"exactly-once/before-pubrec/{protocol}";
        var (subscriber, _) = await ReceiveAsRawSubscriberAsync(protocol, clientId, topic, "exactly once");

        // Gone without PUBREC: the message is still the broker's to deliver.
        subscriber.Dispose();

        using var paho = Paho.Subscribe(host, protocol, clientId, count: 2, [], clean: false, sessionExpiry: 300);
        await Paho.WaitForMessagesAsync(paho, 1);
        Assert.True(Paho.SessionPresent(paho));
        await PublishAsync(protocol, topic, "marker");

        await paho.WaitForSuccessAsync();
        Assert.Equal([new Received(topic, "exactly once", 2, false, Duplicate: true), new Received(topic, "marker", 2, false, Duplicate: false)],
            Paho.Messages(paho));
    }

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Subscriber_dropped_after_PUBREC_gets_PUBREL_again_and_never_the_PUBLISH(Protocol protocol)
    {
        var clientId = $"qos2-drop-after-pubrec-{protocol}";
        var topic = $"exactly-once/after-pubrec/{protocol}";
        var (subscriber, publish) = await ReceiveAsRawSubscriberAsync(protocol, clientId, topic, "exactly once");
        var packetId = publish.PublishId;
        using (subscriber)
        {
            // The application has the message (PUBREC says so); the connection drops before PUBCOMP.
            await subscriber.SendAsync(RawMqttClient.Ack(PacketType.PubRec, packetId));
            var pubRel = await subscriber.ReadAsync();
            Assert.Equal((PacketType.PubRel, packetId), (pubRel.Type, pubRel.PacketId));
        }

        var (back, sessionPresent) = await RawMqttClient.ConnectAsync(host.Endpoint, protocol, clientId, clean: false, sessionExpiry: 300);
        using (back)
        {
            Assert.True(sessionPresent);
            var resent = await back.ReadAsync();
            Assert.Equal((PacketType.PubRel, packetId), (resent.Type, resent.PacketId));
            await back.SendAsync(RawMqttClient.Ack(PacketType.PubComp, packetId));

            await PublishAsync(protocol, topic, "marker");

            // Next comes the marker, not the first message again.
            var next = await back.ReadAsync();
            Assert.Equal((PacketType.Publish, false, "marker"), (next.Type, next.Duplicate, next.Payload));
        }
    }

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Publisher_resending_an_acknowledged_QoS2_PUBLISH_after_reconnecting_is_delivered_once_to_mosquitto_sub(Protocol protocol)
    {
        var clientId = $"qos2-publisher-{protocol}";
        var topic = $"exactly-once/publisher/{protocol}";
        using var subscriber = Mosquitto.Subscribe(host, protocol, $"qos2-mosquitto-{protocol}", qos: 2, count: 2, topic);
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);

        var (publisher, _) = await RawMqttClient.ConnectAsync(host.Endpoint, protocol, clientId, clean: false, sessionExpiry: 300);
        using (publisher)
        {
            await publisher.SendAsync(publisher.Publish(topic, "exactly once", qos: 2, packetId: 7));
            var pubRec = await publisher.ReadAsync();
            Assert.Equal((PacketType.PubRec, (ushort)7), (pubRec.Type, pubRec.PacketId));

            // Dropped before PUBREL: as far as this client knows, the PUBREC may never have arrived.
        }

        var (back, sessionPresent) = await RawMqttClient.ConnectAsync(host.Endpoint, protocol, clientId, clean: false, sessionExpiry: 300);
        using (back)
        {
            Assert.True(sessionPresent);
            await back.SendAsync(back.Publish(topic, "exactly once", qos: 2, packetId: 7, duplicate: true));
            var again = await back.ReadAsync();
            Assert.Equal((PacketType.PubRec, (ushort)7), (again.Type, again.PacketId));
            await back.SendAsync(RawMqttClient.Ack(PacketType.PubRel, 7));
            var pubComp = await back.ReadAsync();
            Assert.Equal((PacketType.PubComp, (ushort)7), (pubComp.Type, pubComp.PacketId));

            await back.SendAsync(back.Publish(topic, "marker", qos: 1, packetId: 8));
            var pubAck = await back.ReadAsync();
            Assert.Equal((PacketType.PubAck, (ushort)8), (pubAck.Type, pubAck.PacketId));
        }

        await subscriber.WaitForSuccessAsync();
        Assert.Equal([new Received(topic, "exactly once", 2, false), new Received(topic, "marker", 1, false)], Mosquitto.Messages(subscriber));
    }

    /// <summary>A raw subscriber with a persistent session, subscribed at QoS 2, and the first QoS 2 PUBLISH it got.</summary>
    private async Task<(RawMqttClient Subscriber, RawPacket Publish)> ReceiveAsRawSubscriberAsync(Protocol protocol, string clientId, string topic, string payload)
    {
        var (subscriber, _) = await RawMqttClient.ConnectAsync(host.Endpoint, protocol, clientId, clean: false, sessionExpiry: 300);
        try
        {
            await subscriber.SubscribeAsync(topic, 2);
            await PublishAsync(protocol, topic, payload);
            var publish = await subscriber.ReadAsync();
            Assert.Equal((PacketType.Publish, 2, false, payload), (publish.Type, publish.QoS, publish.Duplicate, publish.Payload));
            return (subscriber, publish);
        }
        catch
        {
            subscriber.Dispose();
            throw;
        }
    }

    /// <summary>Publishes at QoS 2 with MQTTnet; returns once the flow is complete (PUBCOMP).</summary>
    private async Task PublishAsync(Protocol protocol, string topic, string payload)
    {
        await using var publisher = await MqttNetClient.ConnectAsync(host, protocol, $"qos2-publisher-{Guid.NewGuid():N}");
        await publisher.PublishAsync(topic, payload, qos: 2);
    }
}
