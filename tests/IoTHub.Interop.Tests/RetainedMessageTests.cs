using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests;

/// <summary>
/// Retained messages set by one library and received by others: the last retained message of a topic is
/// stored (3.1.1 [MQTT-3.3.1-5]), sent to each new subscription with RETAIN 1 (3.1.1 [MQTT-3.3.1-8]) but
/// with RETAIN 0 to subscriptions that already existed (3.1.1 [MQTT-3.3.1-9]); an empty retained payload
/// is delivered as usual and deletes the retained message (3.1.1 [MQTT-3.3.1-10], [MQTT-3.3.1-11]).
/// </summary>
public sealed class RetainedMessageTests(InteropHost host) : IClassFixture<InteropHost>
{
    [Fact]
    public async Task Retained_message_from_mosquitto_pub_reaches_new_MQTTnet_and_paho_subscribers_with_the_retain_flag()
    {
        const string topic = "retained/set/sensor";
        await using var existing = await MqttNetClient.ConnectAsync(host, Protocol.V500, "retained-existing");
        await existing.SubscribeAsync(topic, 1);

        // The second retained publish replaces the first; at QoS 1 mosquitto_pub exits once the broker acknowledged it.
        await Mosquitto.PublishAsync(host, Protocol.V311, topic, qos: 1, retain: true, "first");
        await Mosquitto.PublishAsync(host, Protocol.V311, topic, qos: 1, retain: true, "second");

        await using var late = await MqttNetClient.ConnectAsync(host, Protocol.V311, "retained-late-mqttnet");
        await late.SubscribeAsync(topic, 1);
        Assert.Equal([new Received(topic, "second", 1, Retain: true)], await late.WaitForMessagesAsync(1));

        using var paho = Paho.Subscribe(host, Protocol.V500, "retained-late-paho", count: 1, [topic + ":2"]);
        await paho.WaitForSuccessAsync();
        Assert.Equal([new Received(topic, "second", 1, Retain: true)], Paho.Messages(paho));

        // The subscriber that was there when they were published got both live, without RETAIN.
        Assert.Equal([new Received(topic, "first", 1, false), new Received(topic, "second", 1, false)], await existing.WaitForMessagesAsync(2));
    }

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Empty_retained_payload_from_paho_deletes_the_retained_message(Protocol protocol)
    {
        var root = $"retained/delete/{protocol}";
        await using (var publisher = await MqttNetClient.ConnectAsync(host, protocol, $"retained-setter-{protocol}"))
        {
            await publisher.PublishAsync($"{root}/gone", "to be deleted", qos: 1, retain: true);
            await publisher.PublishAsync($"{root}/kept", "still here", qos: 1, retain: true);
        }

        using var live = Mosquitto.Subscribe(host, protocol, $"retained-live-{protocol}", qos: 1, count: 3, $"{root}/#");
        await Mosquitto.WaitUntilSubscribedAsync(live);
        await live.WaitForLinesAsync(Mosquitto.IsMessage, 2); // the two retained messages, sent on subscribe

        await Paho.PublishAsync(host, protocol, $"{root}/gone", qos: 1, retain: true, messages: [null]);

        // 3.1.1 [MQTT-3.3.1-10]: the empty message itself still reaches the subscriber that is there.
        await live.WaitForSuccessAsync();
        Assert.Equal(new Received($"{root}/gone", "", 1, false), Mosquitto.Messages(live)[2]);

        // A new subscriber gets the retained message that is left and then the live marker: nothing for the deleted one.
        using var late = Mosquitto.Subscribe(host, protocol, $"retained-late-{protocol}", qos: 1, count: 2, $"{root}/#");
        await Mosquitto.WaitUntilSubscribedAsync(late);
        await Paho.PublishAsync(host, protocol, $"{root}/gone", qos: 1, retain: false, "marker");
        await late.WaitForSuccessAsync();
        Assert.Equal([new Received($"{root}/kept", "still here", 1, true), new Received($"{root}/gone", "marker", 1, false)], Mosquitto.Messages(late));
    }

    /// <summary>
    /// 5.0 subscription options with MQTTnet (5.0 numbering): Retain Handling 1 sends retained messages only
    /// for a new subscription ([MQTT-3.3.1-10]), 2 never ([MQTT-3.3.1-11]); with Retain As Published live
    /// delivery keeps RETAIN ([MQTT-3.3.1-13]), without it RETAIN is 0 ([MQTT-3.3.1-12]).
    /// </summary>
    [Fact]
    public async Task MQTTnet_v5_retain_handling_and_retain_as_published()
    {
        const string plain = "retained/v5/plain";
        const string asPublished = "retained/v5/as-published";
        await using (var setter = await MqttNetClient.ConnectAsync(host, Protocol.V500, "retained-v5-setter"))
        {
            await setter.PublishAsync(plain, "stored", qos: 1, retain: true);
            await setter.PublishAsync(asPublished, "stored", qos: 1, retain: true);
        }

        await using var client = await MqttNetClient.ConnectAsync(host, Protocol.V500, "retained-v5-options");
        var ifNew = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(plain, MqttQualityOfServiceLevel.AtLeastOnce, retainHandling: MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly)
            .Build();
        await client.Client.SubscribeAsync(ifNew);
        Assert.Equal([new Received(plain, "stored", 1, true)], await client.WaitForMessagesAsync(1));

        // The same filter again is not new: no retained message. Retain Handling 2: none either.
        await client.Client.SubscribeAsync(ifNew);
        await client.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(asPublished, MqttQualityOfServiceLevel.AtLeastOnce, retainAsPublished: true,
                retainHandling: MqttRetainHandling.DoNotSendOnSubscribe)
            .Build());
        await using (var setter = await MqttNetClient.ConnectAsync(host, Protocol.V500, "retained-v5-setter2"))
        {
            await setter.PublishAsync(plain, "live", qos: 1, retain: true);
            await setter.PublishAsync(asPublished, "live", qos: 1, retain: true);
        }

        Assert.Equal(
            [new Received(plain, "stored", 1, true), new Received(plain, "live", 1, false), new Received(asPublished, "live", 1, true)],
            await client.WaitForMessagesAsync(3));
    }
}
