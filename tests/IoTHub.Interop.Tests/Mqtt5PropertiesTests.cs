using System.Text;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests;

/// <summary>
/// MQTT 5.0 message properties travel through the broker unaltered: User Properties in their order, names
/// repeated included ([MQTT-3.3.2-17], [MQTT-3.3.2-18]), Content Type ([MQTT-3.3.2-20]), Response Topic
/// ([MQTT-3.3.2-15]), Correlation Data ([MQTT-3.3.2-16]) and the Payload Format Indicator ([MQTT-3.3.2-4]);
/// the Message Expiry Interval goes out as what is left of it ([MQTT-3.3.2-6]).
/// </summary>
public sealed class Mqtt5PropertiesTests(InteropHost host) : IClassFixture<InteropHost>
{
    [Fact]
    public async Task User_properties_content_type_and_request_response_properties_pass_from_MQTTnet_to_MQTTnet()
    {
        const string topic = "v5/properties/mqttnet";
        await using var subscriber = await MqttNetClient.ConnectAsync(host, Protocol.V500, "v5-properties-sub");
        await subscriber.SubscribeAsync(topic, 1);

        await using (var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, "v5-properties-pub"))
        {
            var message = new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload("{\"temperature\":21.5}")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithContentType("application/json")
                .WithPayloadFormatIndicator(MqttPayloadFormatIndicator.CharacterData)
                .WithResponseTopic("v5/properties/replies")
                .WithCorrelationData([0xCA, 0xFE, 0x00, 0x01])
                .WithMessageExpiryInterval(3600)
                .WithUserProperty("site", Utf8("north"))
                .WithUserProperty("unit", Utf8("°C"))
                .WithUserProperty("site", Utf8("south"))
                .Build();
            var result = await publisher.Client.PublishAsync(message);
            Assert.True(result.IsSuccess, result.ReasonCode.ToString());
        }

        await subscriber.WaitForMessagesAsync(1);
        var received = Assert.Single(subscriber.ApplicationMessages);
        Assert.Equal("{\"temperature\":21.5}", Encoding.UTF8.GetString(received.Payload));
        Assert.Equal("application/json", received.ContentType);
        Assert.Equal(MqttPayloadFormatIndicator.CharacterData, received.PayloadFormatIndicator);
        Assert.Equal("v5/properties/replies", received.ResponseTopic);
        Assert.Equal([0xCA, 0xFE, 0x00, 0x01], received.CorrelationData);
        Assert.InRange(received.MessageExpiryInterval, 3590u, 3600u); // the time it waited in the broker taken off
        Assert.Equal([("site", "north"), ("unit", "°C"), ("site", "south")], Pairs(received.UserProperties));
    }

    [Fact]
    public async Task User_properties_and_content_type_from_mosquitto_pub_reach_paho_and_MQTTnet()
    {
        const string topic = "v5/properties/mosquitto";
        using var paho = Paho.Subscribe(host, Protocol.V500, "v5-properties-paho", count: 1, [topic + ":1"]);
        await using var mqttnet = await MqttNetClient.ConnectAsync(host, Protocol.V500, "v5-properties-mqttnet");
        await mqttnet.SubscribeAsync(topic, 1);
        await Paho.WaitUntilSubscribedAsync(paho);

        await Mosquitto.PublishWithAsync(host, Protocol.V500, "-t", topic, "-q", "1", "-m", "reading",
            "-D", "publish", "user-property", "b", "2",
            "-D", "publish", "user-property", "a", "1",
            "-D", "publish", "user-property", "b", "3",
            "-D", "publish", "content-type", "text/plain");

        (string, string)[] expected = [("b", "2"), ("a", "1"), ("b", "3")];
        await paho.WaitForSuccessAsync();
        var (pahoMessage, pahoContentType, pahoProperties) = Assert.Single(Paho.MessagesWithProperties(paho));
        Assert.Equal(new Received(topic, "reading", 1, false), pahoMessage);
        Assert.Equal("text/plain", pahoContentType);
        Assert.Equal(expected, pahoProperties);

        await mqttnet.WaitForMessagesAsync(1);
        var mqttnetMessage = Assert.Single(mqttnet.ApplicationMessages);
        Assert.Equal("text/plain", mqttnetMessage.ContentType);
        Assert.Equal(expected, Pairs(mqttnetMessage.UserProperties));
    }

    [Fact]
    public async Task User_properties_and_content_type_from_MQTTnet_reach_mosquitto_sub()
    {
        const string topic = "v5/properties/to-mosquitto";
        using var subscriber = Mosquitto.Subscribe(host, Protocol.V500, "v5-properties-mosquitto", qos: 1, count: 1, topic);
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);

        await using (var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, "v5-properties-pub2"))
        {
            await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload("hello")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithContentType("text/x-greeting")
                .WithUserProperty("k1", Utf8("v1"))
                .WithUserProperty("k2", Utf8("v2"))
                .Build());
        }

        await subscriber.WaitForSuccessAsync();
        var (message, contentType, userProperties) = Assert.Single(Mosquitto.MessagesWithProperties(subscriber));
        Assert.Equal(new Received(topic, "hello", 1, false), message);
        Assert.Equal("text/x-greeting", contentType);
        Assert.Equal("k1:v1 k2:v2", userProperties);
    }

    private static ReadOnlyMemory<byte> Utf8(string value) => Encoding.UTF8.GetBytes(value);

    private static List<(string Name, string Value)> Pairs(List<MqttUserProperty>? properties) =>
        [.. (properties ?? []).Select(p => (p.Name, p.ReadValueAsString()))];
}
