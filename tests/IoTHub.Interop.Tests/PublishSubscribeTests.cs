namespace IoTHub.Interop.Tests;

/// <summary>
/// Publish and subscribe at QoS 0, 1 and 2 across three client libraries, over MQTT 3.1.1 and 5.0, and
/// the '+' and '#' wildcards. Every subscriber subscribes at QoS 2, so each message arrives at the QoS it
/// was published with: the minimum of published and granted QoS (3.1.1 [MQTT-3.8.4-6], 5.0 [MQTT-3.8.4-8]),
/// with RETAIN 0 on live delivery (3.1.1 [MQTT-3.3.1-9]), in the order published (3.1.1 [MQTT-4.6.0-6]).
/// </summary>
public sealed class PublishSubscribeTests(InteropHost host) : IClassFixture<InteropHost>
{
    public static TheoryData<Protocol, int> VersionsAndQoS => new()
    {
        { Protocol.V311, 0 }, { Protocol.V311, 1 }, { Protocol.V311, 2 },
        { Protocol.V500, 0 }, { Protocol.V500, 1 }, { Protocol.V500, 2 },
    };

    [Theory]
    [MemberData(nameof(VersionsAndQoS))]
    public async Task Mosquitto_pub_to_MQTTnet_subscriber(Protocol protocol, int qos)
    {
        var topic = $"pubsub/mosquitto-to-mqttnet/{protocol}/{qos}";
        await using var subscriber = await MqttNetClient.ConnectAsync(host, protocol, $"mqttnet-sub-{protocol}-{qos}");
        await subscriber.SubscribeAsync(topic, 2);

        await Mosquitto.PublishAsync(host, protocol, topic, qos, retain: false, "one", "two", "three");

        var received = await subscriber.WaitForMessagesAsync(3);
        Assert.Equal([new(topic, "one", qos, false), new(topic, "two", qos, false), new(topic, "three", qos, false)],
            received.Select(m => m with { Duplicate = false }));
    }

    [Theory]
    [MemberData(nameof(VersionsAndQoS))]
    public async Task MQTTnet_publisher_to_paho_subscriber(Protocol protocol, int qos)
    {
        var topic = $"pubsub/mqttnet-to-paho/{protocol}/{qos}";
        using var subscriber = Paho.Subscribe(host, protocol, $"paho-sub-{protocol}-{qos}", count: 3, [topic + ":2"]);
        await Paho.WaitUntilSubscribedAsync(subscriber);

        await using (var publisher = await MqttNetClient.ConnectAsync(host, protocol, $"mqttnet-pub-{protocol}-{qos}"))
        {
            foreach (var payload in new[] { "one", "two", "three" })
            {
                await publisher.PublishAsync(topic, payload, qos);
            }
        }

        await subscriber.WaitForSuccessAsync();
        Assert.Equal([new(topic, "one", qos, false), new(topic, "two", qos, false), new(topic, "three", qos, false)],
            Paho.Messages(subscriber));
    }

    [Theory]
    [MemberData(nameof(VersionsAndQoS))]
    public async Task Paho_publisher_to_mosquitto_sub(Protocol protocol, int qos)
    {
        var topic = $"pubsub/paho-to-mosquitto/{protocol}/{qos}";
        using var subscriber = Mosquitto.Subscribe(host, protocol, $"mosquitto-sub-{protocol}-{qos}", qos: 2, count: 3, topic);
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);

        await Paho.PublishAsync(host, protocol, topic, qos, retain: false, "one", "two", "three");

        await subscriber.WaitForSuccessAsync();
        Assert.Equal([new(topic, "one", qos, false), new(topic, "two", qos, false), new(topic, "three", qos, false)],
            Mosquitto.Messages(subscriber));
    }

    /// <summary>A subscription granted a lower QoS than published caps the delivery QoS (3.1.1 [MQTT-3.8.4-6], 5.0 [MQTT-3.8.4-8]).</summary>
    [Theory]
    [InlineData(Protocol.V311, 0)]
    [InlineData(Protocol.V311, 1)]
    [InlineData(Protocol.V500, 0)]
    [InlineData(Protocol.V500, 1)]
    public async Task QoS2_publish_is_delivered_at_the_lower_QoS_granted_to_mosquitto_sub(Protocol protocol, int granted)
    {
        var topic = $"pubsub/downgrade/{protocol}/{granted}";
        using var subscriber = Mosquitto.Subscribe(host, protocol, $"downgrade-{protocol}-{granted}", qos: granted, count: 1, topic);
        await Mosquitto.WaitUntilSubscribedAsync(subscriber);
        Assert.Contains(subscriber.Lines, line => line.StartsWith("Subscribed (mid: 1): " + granted, StringComparison.Ordinal));

        await using (var publisher = await MqttNetClient.ConnectAsync(host, protocol, $"downgrade-pub-{protocol}-{granted}"))
        {
            await publisher.PublishAsync(topic, "capped", qos: 2);
        }

        await subscriber.WaitForSuccessAsync();
        Assert.Equal([new Received(topic, "capped", granted, false)], Mosquitto.Messages(subscriber));
    }

    /// <summary>
    /// '+' matches exactly one level, '#' the parent level and every level below it (3.1.1 §4.7.1.2 and
    /// §4.7.1.3, 5.0 the same sections); each library subscribes with its own filter and the same topics are
    /// published once. A last message matched by every filter marks the end of what each may receive.
    /// </summary>
    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task Wildcards_match_the_same_topics_for_each_library(Protocol protocol)
    {
        var root = $"wild-{protocol}";
        string[] topics =
        [
            root, $"{root}/a", $"{root}/a/temp", $"{root}/b/temp", $"{root}/a/b/temp", $"{root}/a/humidity",
            $"other-{protocol}/a/temp", $"{root}/temp",
        ];
        var end = $"{root}/end/temp";

        using var paho = Paho.Subscribe(host, protocol, $"wild-paho-{protocol}", count: 3, [$"{root}/+/temp:1"]);
        using var mosquitto = Mosquitto.Subscribe(host, protocol, $"wild-mosquitto-{protocol}", qos: 1, count: 8, $"{root}/#");
        await using var mqttnet = await MqttNetClient.ConnectAsync(host, protocol, $"wild-mqttnet-{protocol}");
        await mqttnet.SubscribeAsync("+/a/+", 1);
        await Paho.WaitUntilSubscribedAsync(paho);
        await Mosquitto.WaitUntilSubscribedAsync(mosquitto);

        await using (var publisher = await MqttNetClient.ConnectAsync(host, protocol, $"wild-pub-{protocol}"))
        {
            foreach (var topic in topics)
            {
                await publisher.PublishAsync(topic, topic, qos: 1);
            }

            await publisher.PublishAsync(end, "end", qos: 1);
            await publisher.PublishAsync($"{root}/a/end", "end", qos: 1); // the end for "+/a/+", which "{root}/end/temp" does not match
        }

        await paho.WaitForSuccessAsync();
        await mosquitto.WaitForSuccessAsync();
        var fromMqttnet = await mqttnet.WaitForMessagesAsync(4);

        Assert.Equal([$"{root}/a/temp", $"{root}/b/temp", end], Paho.Messages(paho).Select(m => m.Topic));
        Assert.Equal(
            [root, $"{root}/a", $"{root}/a/temp", $"{root}/b/temp", $"{root}/a/b/temp", $"{root}/a/humidity", $"{root}/temp", end],
            Mosquitto.Messages(mosquitto).Select(m => m.Topic));
        Assert.Equal([$"{root}/a/temp", $"{root}/a/humidity", $"other-{protocol}/a/temp", $"{root}/a/end"], fromMqttnet.Select(m => m.Topic));
    }

    /// <summary>
    /// A filter starting with '#' or '+' does not match topics starting with '$' ([MQTT-4.7.2-1], both
    /// versions): the broker's retained $SYS topics go to "$SYS/#"-style subscribers only.
    /// </summary>
    [Fact]
    public async Task Wildcards_at_the_first_level_do_not_match_SYS_topics()
    {
        // The broker publishes $SYS/broker/version (retained) on its first monitor tick; paho waits for it.
        using var sys = Paho.Subscribe(host, Protocol.V311, "sys-paho", count: 1, ["$SYS/broker/version:0"]);
        await sys.WaitForSuccessAsync();
        var version = Assert.Single(Paho.Messages(sys));
        Assert.StartsWith("IoTHub", version.Payload, StringComparison.Ordinal);

        using var everything = Mosquitto.Subscribe(host, Protocol.V311, "sys-mosquitto", qos: 0, count: 1, "#");
        await using var plus = await MqttNetClient.ConnectAsync(host, Protocol.V500, "sys-mqttnet");
        await plus.SubscribeAsync("+/broker/version", 0);
        await Mosquitto.WaitUntilSubscribedAsync(everything);

        // The first message either gets is the marker published now: no retained $SYS message came before it.
        await using (var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V311, "sys-publisher"))
        {
            await publisher.PublishAsync("marker/broker/version", "marker", qos: 0);
        }

        await everything.WaitForSuccessAsync();
        Assert.Equal([new Received("marker/broker/version", "marker", 0, false)], Mosquitto.Messages(everything));
        Assert.Equal([new Received("marker/broker/version", "marker", 0, false)], await plus.WaitForMessagesAsync(1));
    }

    /// <summary>
    /// Packets larger than the transport's blocks, packets cut at a block's end and small packets between
    /// them all arrive whole and in order (3.1.1 [MQTT-4.6.0-6]). This host runs with Kestrel's default
    /// 4 KB blocks; HostProcessTests sends the same through the real host's 64 KB blocks.
    /// </summary>
    [Fact]
    public async Task Payloads_larger_than_a_transport_block_arrive_whole_and_in_order()
    {
        const string Topic = "pubsub/large";
        var random = new Random(11);
        string Text(int length) => string.Create(length, random, static (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = (char)('a' + r.Next(26));
            }
        });
        string[] payloads = [Text(300_000), "small", Text(65_536), Text(131_000), "x", Text(70_000)];

        await using var subscriber = await MqttNetClient.ConnectAsync(host, Protocol.V500, "large-sub");
        await subscriber.SubscribeAsync(Topic, 1);
        await using (var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V311, "large-pub"))
        {
            foreach (var payload in payloads)
            {
                await publisher.PublishAsync(Topic, payload, qos: 1);
            }
        }

        var received = await subscriber.WaitForMessagesAsync(payloads.Length);
        Assert.Equal(payloads, received.Select(m => m.Payload));
    }
}
