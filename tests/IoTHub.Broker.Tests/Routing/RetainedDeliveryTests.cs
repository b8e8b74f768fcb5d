using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// Retained messages delivered with back-pressure (issue 24): a new subscription's retained messages are read from the
/// store a batch at a time as its client takes them, so all of them arrive with the default limits at any QoS, live
/// messages go on meanwhile, and a retained message never follows a newer live one of its topic.
/// </summary>
public sealed class RetainedDeliveryTests : IAsyncLifetime
{
    private MqttBroker _broker = null!;

    public Task InitializeAsync()
    {
        _broker = TestBroker.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    // Twenty times the default queue (1 000) plus in-flight window (32): before, all but about 1 032 were dropped as "queue full".
    [Theory]
    [InlineData(QualityOfService.AtMostOnce)]
    [InlineData(QualityOfService.AtLeastOnce)]
    [InlineData(QualityOfService.ExactlyOnce)]
    public async Task Every_retained_message_reaches_a_subscriber_that_keeps_reading(QualityOfService qos)
    {
        const int Count = 20_000;
        Retain(Count, "old", qos);

        await using var subscriber = await PipeClient.ConnectAsync(_broker, "reader");
        await subscriber.SubscribeAsync("dev/#", qos);
        var topics = new HashSet<string>(StringComparer.Ordinal);
        while (topics.Count < Count)
        {
            var message = await ReceiveAndAcknowledgeAsync(subscriber);
            Assert.True(message.Retain); // [MQTT-3.3.1-8]
            Assert.True(topics.Add(message.Topic), $"{message.Topic} came twice");
        }

        Assert.Equal(0, _broker.Statistics.Dropped(DropReason.QueueFull));
        await Poll.UntilAsync(() => Task.FromResult(!_broker.FindSession("reader")!.FeedsRetained), message: "the feed ended after its last message");
    }

    [Fact]
    public async Task A_retained_message_never_follows_a_newer_live_message_of_its_topic()
    {
        const int Count = 500;
        Retain(Count, "old", QualityOfService.AtLeastOnce);

        // The subscriber acknowledges nothing yet: 32 retained messages go out (the window), 100 wait in its queue
        // (Mqtt:RetainedDeliveryBatch), the rest is still in the store when a newer message reaches every topic.
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "late-reader");
        await subscriber.SubscribeAsync("dev/#", QualityOfService.AtLeastOnce);
        for (var i = 0; i < Count; i++)
        {
            _broker.Publish(MqttMessage.Create(Topic(i), "new"u8, QualityOfService.AtLeastOnce, retain: false));
        }

        var seen = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var newer = 0;
        while (newer < Count)
        {
            var message = await ReceiveAndAcknowledgeAsync(subscriber);
            var payloads = seen.TryGetValue(message.Topic, out var list) ? list : seen[message.Topic] = [];
            Assert.False(payloads.Contains("new") && message.PayloadText == "old", $"{message.Topic}: the retained message after the live one");
            payloads.Add(message.PayloadText);
            newer += message.PayloadText == "new" ? 1 : 0;
        }

        var older = seen.Values.Count(static payloads => payloads.Contains("old"));
        Assert.InRange(older, 1, Count - 1); // some went out before the live ones, the others were skipped
    }

    // [MQTT-3.10.4-2]: after UNSUBSCRIBE the server adds no more messages of that subscription.
    [Fact]
    public async Task Unsubscribing_ends_the_feed_of_its_retained_messages()
    {
        Retain(2_000, "old", QualityOfService.AtLeastOnce);
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "quitter");
        await subscriber.SubscribeAsync("dev/#", QualityOfService.AtLeastOnce);
        Assert.True(_broker.FindSession("quitter")!.FeedsRetained);

        await subscriber.SendAsync(new UnsubscribePacket { PacketId = 99, TopicFilters = ["dev/#"] });
        while ((await subscriber.ReceiveAsync()).Type != PacketType.UnsubAck)
        {
            // retained messages sent before the UNSUBSCRIBE was read
        }

        Assert.False(_broker.FindSession("quitter")!.FeedsRetained);
    }

    private static string Topic(int i) => $"dev/{i:D6}/state";

    private void Retain(int count, string payload, QualityOfService qos)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(payload);
        for (var i = 0; i < count; i++)
        {
            _broker.Publish(MqttMessage.Create(Topic(i), bytes, qos, retain: true));
        }
    }

    private static async Task<ReceivedPublish> ReceiveAndAcknowledgeAsync(MqttTestClient client)
    {
        var message = await client.ExpectPublishAsync();
        switch (message.QualityOfService)
        {
            case QualityOfService.AtLeastOnce:
                await client.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
                break;
            case QualityOfService.ExactlyOnce:
                await client.SendAsync(new AckPacket(PacketType.PubRec, message.PacketId));
                await client.ExpectAckAsync(PacketType.PubRel);
                await client.SendAsync(new AckPacket(PacketType.PubComp, message.PacketId));
                break;
        }

        return message;
    }
}
