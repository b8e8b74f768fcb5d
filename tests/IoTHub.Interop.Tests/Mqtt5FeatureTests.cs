using System.Diagnostics;
using System.Text;
using IoTHub.Mqtt;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests;

/// <summary>
/// MQTT 5.0 features through the MQTTnet 5.0 client, and through a bare socket where only the bytes on the
/// wire show the behaviour: topic aliases both ways, subscription identifiers, message expiry for an
/// offline session, Receive Maximum, request/response.
/// </summary>
public sealed class Mqtt5FeatureTests(InteropHost host) : IClassFixture<InteropHost>
{
    /// <summary>
    /// Client to server: MQTTnet sets alias 5 with its first PUBLISH, then sends an empty topic with alias 5.
    /// The broker accepts aliases up to the Topic Alias Maximum it announced ([MQTT-3.3.2-12]) and the
    /// subscriber gets the real topic both times.
    /// </summary>
    [Fact]
    public async Task Topic_alias_from_MQTTnet_publisher_is_resolved_for_the_subscriber()
    {
        const string topic = "alias/in/a-rather-long/topic/name";
        await using var subscriber = await MqttNetClient.ConnectAsync(host, Protocol.V500, "alias-in-sub");
        await subscriber.SubscribeAsync("alias/in/#", 1);

        await using var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, "alias-in-pub");
        Assert.True(publisher.ConnectResult.TopicAliasMaximum >= 5, $"Topic Alias Maximum {publisher.ConnectResult.TopicAliasMaximum}");
        foreach (var (name, payload) in new[] { (topic, "first"), ("", "second"), ("", "third") })
        {
            var result = await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(name)
                .WithTopicAlias(5)
                .WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build());
            Assert.True(result.IsSuccess, $"{payload}: {result.ReasonCode} {result.ReasonString}");
        }

        await subscriber.WaitForMessagesAsync(3);
        Assert.Equal(
            [new Received(topic, "first", 1, false), new Received(topic, "second", 1, false), new Received(topic, "third", 1, false)],
            subscriber.Messages);
    }

    /// <summary>
    /// Server to client, read off the wire by a bare socket that allows 2 aliases: the first message on a
    /// topic carries the topic and a new alias in 1..2, repeats carry an empty topic and that alias; a third
    /// topic reuses one of the 2 slots, never alias 0 or above 2 ([MQTT-3.3.2-8], [MQTT-3.1.2-26],
    /// [MQTT-3.3.2-11]). A client that allows none never gets one ([MQTT-3.1.2-27]), and a new connection
    /// starts without mappings ([MQTT-3.3.2-7]).
    /// </summary>
    [Fact]
    public async Task Broker_assigns_topic_aliases_to_a_client_up_to_its_maximum_and_leaves_the_topic_out_on_repeats()
    {
        string[] topics = ["alias/out/a", "alias/out/b", "alias/out/a", "alias/out/b", "alias/out/c", "alias/out/c", "alias/out/a"];
        var (aliased, _) = await RawMqttClient.ConnectAsync(host.Endpoint, Protocol.V500, "alias-out-two", topicAliasMaximum: 2);
        using var aliasedConnection = aliased;
        await aliased.SubscribeAsync("alias/out/#", 0);
        var (plain, _) = await RawMqttClient.ConnectAsync(host.Endpoint, Protocol.V500, "alias-out-none");
        using var plainConnection = plain;
        await plain.SubscribeAsync("alias/out/#", 0);

        await using (var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, "alias-out-pub"))
        {
            for (var i = 0; i < topics.Length; i++)
            {
                await publisher.PublishAsync(topics[i], $"m{i}", 0);
            }

            // MQTTnet closes its socket with SO_LINGER 0 (a TCP reset): QoS 0 PUBLISHes (and the DISCONNECT) still in
            // flight when it is disposed are thrown away by the kernel. The PINGRESP shows the broker has read them.
            await publisher.Client.PingAsync();
        }

        var seen = new List<WirePublish>();
        for (var i = 0; i < topics.Length; i++)
        {
            try
            {
                seen.Add(WirePublish.Parse(await aliased.ReadAsync()));
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{seen.Count} of {topics.Length} PUBLISHes: "
                    + string.Join(", ", seen.Select(p => $"'{p.Topic}' alias {p.TopicAlias} {p.Payload}")), e);
            }
        }

        var wire = string.Join(", ", seen.Select(p => $"'{p.Topic}' alias {p.TopicAlias} {p.Payload}"));
        Assert.Equal(topics.Select((_, i) => $"m{i}"), seen.Select(p => p.Payload));
        Assert.All(seen, p => Assert.InRange(p.TopicAlias, (ushort)1, (ushort)2));

        // The client's own view: resolve the aliases as a receiver must, then compare with what was published.
        var mapping = new Dictionary<ushort, string>();
        var resolved = new List<string>();
        foreach (var publish in seen)
        {
            if (publish.Topic.Length > 0)
            {
                mapping[publish.TopicAlias] = publish.Topic;
            }

            Assert.True(mapping.TryGetValue(publish.TopicAlias, out var name), $"alias {publish.TopicAlias} used before it was set: {wire}");
            resolved.Add(name!);
        }

        Assert.Equal(topics, resolved);

        // a, b: new (topic + alias); a, b again: empty topic; c: new, in a reused slot; c again: empty.
        Assert.Equal([true, true, false, false, true, false], seen.Take(6).Select(p => p.Topic.Length > 0));
        Assert.NotEqual(seen[0].TopicAlias, seen[1].TopicAlias);
        Assert.Equal(seen[0].TopicAlias, seen[2].TopicAlias);
        Assert.Equal(seen[1].TopicAlias, seen[3].TopicAlias);
        Assert.Equal(seen[4].TopicAlias, seen[5].TopicAlias);

        for (var i = 0; i < topics.Length; i++)
        {
            var publish = WirePublish.Parse(await plain.ReadAsync());
            Assert.Equal((topics[i], (ushort)0), (publish.Topic, publish.TopicAlias));
        }

        // Mappings belong to one connection: a new one is told the topic again.
        aliased.Dispose();
        await host.WaitUntilOfflineAsync("alias-out-two", TimeSpan.FromSeconds(5));
        var (again, _) = await RawMqttClient.ConnectAsync(host.Endpoint, Protocol.V500, "alias-out-two", topicAliasMaximum: 2);
        using var againConnection = again;
        await again.SubscribeAsync("alias/out/#", 0);
        await using (var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, "alias-out-pub"))
        {
            await publisher.PublishAsync("alias/out/a", "after reconnect", 0);
            await publisher.Client.PingAsync();
        }

        var first = WirePublish.Parse(await again.ReadAsync());
        Assert.Equal(("alias/out/a", "after reconnect"), (first.Topic, first.Payload));
    }

    /// <summary>
    /// MQTTnet subscribes twice with identifiers 7 and 300 (a two-byte variable byte integer) and once without.
    /// A message matching all three comes once with both identifiers ([MQTT-3.3.4-3], [MQTT-3.3.4-4]); one
    /// matching only the 300 subscription comes with 300 alone.
    /// </summary>
    [Fact]
    public async Task Message_matching_two_subscriptions_with_identifiers_carries_both()
    {
        await using var subscriber = await MqttNetClient.ConnectAsync(host, Protocol.V500, "ids-sub");
        Assert.True(subscriber.ConnectResult.SubscriptionIdentifiersAvailable);
        foreach (var (filter, id) in new[] { ("ids/+/temp", 7u), ("ids/#", 300u), ("ids/room/+", 0u) })
        {
            var options = new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce);
            if (id > 0)
            {
                options = options.WithSubscriptionIdentifier(id);
            }

            var result = await subscriber.Client.SubscribeAsync(options.Build());
            Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, result.Items.Single().ResultCode);
        }

        await using (var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, "ids-pub"))
        {
            await publisher.PublishAsync("ids/room/temp", "both", 1);
            await publisher.PublishAsync("ids/hall/humidity", "one", 1);
        }

        // Two messages, in order: had the first come as several copies, the second would not be the humidity one.
        await subscriber.WaitForMessagesAsync(2);
        var messages = subscriber.ApplicationMessages;
        Assert.Equal(["ids/room/temp", "ids/hall/humidity"], messages.Take(2).Select(m => m.Topic));
        Assert.Equal([7u, 300u], messages[0].SubscriptionIdentifiers.Order());
        Assert.Equal([300u], messages[1].SubscriptionIdentifiers);
    }

    /// <summary>
    /// Two messages wait for an offline persistent MQTTnet session: one with Message Expiry Interval 1 s, one
    /// with 100 s. After 2 s the first is gone ([MQTT-3.3.2-5]) and the second arrives with what is left of its
    /// interval ([MQTT-3.3.2-6]).
    /// </summary>
    [Fact]
    public async Task Message_expired_while_queued_for_an_offline_session_is_not_delivered_and_the_other_carries_its_remaining_interval()
    {
        const string clientId = "expiry-sub";
        await using (var first = await MqttNetClient.ConnectAsync(host, Protocol.V500, clientId, clean: true, sessionExpiry: 60))
        {
            await first.SubscribeAsync("expiry/#", 1);
            await first.DisconnectAsync();
        }

        await host.WaitUntilOfflineAsync(clientId, TimeSpan.FromSeconds(5));
        var published = new Stopwatch();
        await using (var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, "expiry-pub"))
        {
            foreach (var (payload, expiry) in new[] { ("short", 1u), ("long", 100u) })
            {
                var result = await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic("expiry/queued")
                    .WithPayload(payload)
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .WithMessageExpiryInterval(expiry)
                    .Build());
                Assert.True(result.IsSuccess, result.ReasonCode.ToString());
                published.Restart(); // the broker had the message before its PUBACK: it has waited at least this long
            }
        }

        // The passing of time is what is under test here: there is no event to wait for. 2.5 s after the
        // second PUBACK, the first message (1 s) is long expired and the second has under 97.5 s left.
        var wait = TimeSpan.FromSeconds(2.5) - published.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }

        await using var resumed = await MqttNetClient.ConnectAsync(host, Protocol.V500, clientId, clean: false, sessionExpiry: 60);
        Assert.True(resumed.ConnectResult.IsSessionPresent);
        await using (var marker = await MqttNetClient.ConnectAsync(host, Protocol.V500, "expiry-marker"))
        {
            await marker.PublishAsync("expiry/marker", "end", 1);
        }

        // Queued in the order short, long, then the marker: short, if kept, would be first.
        await resumed.WaitForMessagesAsync(2);
        var messages = resumed.ApplicationMessages;
        Assert.Equal(["long", "end"], messages.Select(m => Encoding.UTF8.GetString(m.Payload)));
        Assert.InRange(messages[0].MessageExpiryInterval, 90u, 98u);
    }

    /// <summary>
    /// A bare 5.0 client with Receive Maximum 2 subscribes at QoS 1 and acknowledges one message at a time;
    /// all 10 are waiting at the broker from the start. It never holds more than 2 unacknowledged PUBLISHes
    /// ([MQTT-3.3.4-9]), and a PINGREQ sent while the window is full is answered at once ([MQTT-3.3.4-10]):
    /// the PINGRESP is the barrier that shows nothing more was sent before it.
    /// </summary>
    [Fact]
    public async Task Receive_maximum_2_never_has_more_than_2_unacknowledged_QoS_1_messages_from_the_broker()
    {
        const int count = 10;
        var (client, _) = await RawMqttClient.ConnectAsync(host.Endpoint, Protocol.V500, "receive-maximum", receiveMaximum: 2);
        using var connection = client;
        await client.SubscribeAsync("receive-maximum/t", 1);

        await using (var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, "receive-maximum-pub"))
        {
            for (var i = 0; i < count; i++)
            {
                await publisher.PublishAsync("receive-maximum/t", $"m{i}", 1);
            }
        }

        var outstanding = new Queue<ushort>();
        var payloads = new List<string>();
        var peak = 0;
        while (payloads.Count < count || outstanding.Count > 0)
        {
            // Read until the PINGRESP; while the window has room and messages are due, wait for one first.
            var pinged = false;
            while (true)
            {
                if (!pinged && (outstanding.Count == 2 || payloads.Count == count))
                {
                    await client.SendAsync([0xC0, 0x00]); // PINGREQ
                    pinged = true;
                }

                var packet = await client.ReadAsync();
                if (packet.Type == PacketType.PingResp)
                {
                    Assert.True(pinged);
                    break;
                }

                var publish = WirePublish.Parse(packet);
                outstanding.Enqueue(publish.PacketId);
                payloads.Add(publish.Payload);
                peak = Math.Max(peak, outstanding.Count);
                Assert.True(outstanding.Count <= 2, $"{outstanding.Count} unacknowledged QoS 1 PUBLISHes with Receive Maximum 2: {string.Join(", ", payloads)}");
            }

            if (outstanding.Count > 0)
            {
                await client.SendAsync(RawMqttClient.Ack(PacketType.PubAck, outstanding.Dequeue()));
            }
        }

        Assert.Equal(2, peak);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"m{i}"), payloads);
    }

    /// <summary>
    /// Request/response between two MQTTnet clients: the Response Topic and Correlation Data of a request
    /// reach the responder unaltered ([MQTT-3.3.2-15], [MQTT-3.3.2-16]), and the reply sent there with that
    /// correlation data reaches the requester, who matches it to its request.
    /// </summary>
    [Fact]
    public async Task Request_and_response_with_response_topic_and_correlation_data_between_MQTTnet_clients()
    {
        await using var responder = await MqttNetClient.ConnectAsync(host, Protocol.V500, "rpc-responder");
        await responder.SubscribeAsync("rpc/requests", 1);
        await using var requester = await MqttNetClient.ConnectAsync(host, Protocol.V500, "rpc-requester");
        await requester.SubscribeAsync("rpc/replies/rpc-requester", 1);

        byte[][] correlations = [[0x01, 0x00, 0xFF], [0x02, 0xAB]];
        for (var i = 0; i < correlations.Length; i++)
        {
            var result = await requester.Client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic("rpc/requests")
                .WithPayload($"ping {i}")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithResponseTopic("rpc/replies/rpc-requester")
                .WithCorrelationData(correlations[i])
                .Build());
            Assert.True(result.IsSuccess, result.ReasonCode.ToString());
        }

        await responder.WaitForMessagesAsync(2);
        foreach (var request in responder.ApplicationMessages.Reverse()) // answered out of order
        {
            Assert.Equal("rpc/replies/rpc-requester", request.ResponseTopic);
            var result = await responder.Client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(request.ResponseTopic)
                .WithPayload("pong for " + Encoding.UTF8.GetString(request.Payload))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithCorrelationData(request.CorrelationData)
                .Build());
            Assert.True(result.IsSuccess, result.ReasonCode.ToString());
        }

        await requester.WaitForMessagesAsync(2);
        var replies = requester.ApplicationMessages;
        Assert.Equal(correlations[1], replies[0].CorrelationData);
        Assert.Equal("pong for ping 1", Encoding.UTF8.GetString(replies[0].Payload));
        Assert.Equal(correlations[0], replies[1].CorrelationData);
        Assert.Equal("pong for ping 0", Encoding.UTF8.GetString(replies[1].Payload));
    }
}
