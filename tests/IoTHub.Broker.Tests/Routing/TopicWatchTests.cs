using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests.Routing;

/// <summary>The in-process topic watch (the dashboard's watch panel): what it is shown, and that it is no session.</summary>
public sealed class TopicWatchTests : IAsyncLifetime
{
    private readonly CapturingLogger<MqttBroker> _log = new();
    private readonly MqttBroker _broker;

    public TopicWatchTests() => _broker = TestBroker.Start(logger: _log);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task A_watch_is_shown_the_messages_matching_its_filter_with_their_properties_and_nothing_else()
    {
        var seen = new ConcurrentQueue<MqttMessage>();
        using var watch = _broker.Watch("watch/+/temp", seen.Enqueue);
        Assert.NotNull(watch);
        Assert.Equal("watch/+/temp", watch.Filter);

        await using var publisher = await PipeClient.ConnectAsync(_broker, "publisher", MqttProtocolVersion.V500);
        var properties = new MqttProperties
        {
            ContentType = "text/plain",
            ResponseTopic = "watch/replies",
            CorrelationData = [1, 2, 3],
            PayloadFormatIndicator = 1,
            MessageExpiryInterval = 60,
            UserProperties = [new UserProperty("site", "lab")],
        };
        await publisher.PublishAsync("watch/a/temp", "21.5", QualityOfService.AtLeastOnce, retain: true, properties: properties);
        await publisher.ExpectAckAsync(PacketType.PubAck);
        await publisher.PublishAsync("watch/a/humidity", "40", QualityOfService.AtLeastOnce);
        await publisher.ExpectAckAsync(PacketType.PubAck);
        await publisher.PublishAsync("watch/a/temp/inner", "0", QualityOfService.AtLeastOnce);
        await publisher.ExpectAckAsync(PacketType.PubAck);
        _broker.Publish(MqttMessage.Create("watch/b/temp", "22"u8, QualityOfService.AtMostOnce, retain: false));

        // Routing shows a message to the watch before the PUBACK is queued: what it has now is all it gets.
        Assert.Equal(["watch/a/temp", "watch/b/temp"], seen.Select(static m => m.Topic));
        var first = seen.First();
        Assert.Equal("21.5", Encoding.UTF8.GetString(first.Payload.Span));
        Assert.Equal(QualityOfService.AtLeastOnce, first.QualityOfService);
        Assert.True(first.Retain);
        Assert.Equal("publisher", first.PublisherId);
        var forwarded = MqttProperties.Parse(first.Properties.Span, PropertyTargets.Publish);
        Assert.Equal("text/plain", forwarded.ContentType);
        Assert.Equal("watch/replies", forwarded.ResponseTopic);
        Assert.Equal([1, 2, 3], forwarded.CorrelationData);
        Assert.Equal((byte)1, forwarded.PayloadFormatIndicator);
        Assert.Equal([new UserProperty("site", "lab")], forwarded.UserProperties);
        Assert.NotEqual(0, first.ExpiresAt);
    }

    [Fact]
    public async Task A_watch_is_no_subscriber_session_or_connection()
    {
        var seen = new ConcurrentQueue<MqttMessage>();
        using var watch = _broker.Watch("#", seen.Enqueue);
        Assert.Equal(1, _broker.Router.Watches.Count);

        await using var publisher = await PipeClient.ConnectAsync(_broker, "lonely", MqttProtocolVersion.V500);
        var dropped = _broker.Statistics.MessagesDropped;
        await publisher.PublishAsync("nobody/listens", "x", QualityOfService.AtLeastOnce);

        // 0x10 No matching subscribers, and the message is counted as dropped for it: the watch saw it all the same.
        Assert.Equal(ReasonCode.NoMatchingSubscribers, (await publisher.ExpectAckAsync(PacketType.PubAck)).ReasonCode);
        Assert.Equal(dropped + 1, _broker.Statistics.MessagesDropped);
        Assert.Equal(["nobody/listens"], seen.Select(static m => m.Topic));
        Assert.Equal(1, _broker.ConnectionCount);
        Assert.Equal(1, _broker.SessionCount);
        Assert.Equal(0, _broker.SubscriptionCount);
        Assert.Equal(0, _broker.Statistics.MessagesDelivered);
    }

    [Fact]
    public async Task A_closed_watch_is_shown_nothing_while_others_go_on()
    {
        var closed = new ConcurrentQueue<MqttMessage>();
        var open = new ConcurrentQueue<MqttMessage>();
        var watch = _broker.Watch("watch/#", closed.Enqueue)!;
        using var other = _broker.Watch("watch/#", open.Enqueue);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "publisher");
        await publisher.PublishAndWaitAsync("watch/one", "1");

        watch.Dispose();
        watch.Dispose();
        Assert.Equal(1, _broker.Router.Watches.Count);
        await publisher.PublishAndWaitAsync("watch/two", "2");

        Assert.Equal(["watch/one"], closed.Select(static m => m.Topic));
        Assert.Equal(["watch/one", "watch/two"], open.Select(static m => m.Topic));
        other!.Dispose();
        Assert.Equal(0, _broker.Router.Watches.Count);
    }

    [Fact]
    public async Task Sys_topics_are_shown_only_to_a_filter_that_names_them()
    {
        var all = new ConcurrentQueue<MqttMessage>();
        var sys = Channel.CreateUnbounded<MqttMessage>();
        using var everything = _broker.Watch("#", all.Enqueue);
        using var status = _broker.Watch("$SYS/broker/uptime", m => sys.Writer.TryWrite(m));

        // $SYS is published every SysInterval (200 ms here) [MQTT-4.7.2-1]: '#' does not match it.
        var uptime = await sys.Reader.ReadAsync().AsTask().WaitAsync(PipeClient.Timeout);
        Assert.Equal("$SYS/broker/uptime", uptime.Topic);
        Assert.Empty(all);
    }

    [Theory]
    [InlineData("a/#/b")]
    [InlineData("a+/b")]
    [InlineData("")]
    [InlineData("$share/group/a/#")]
    [InlineData("$queue/a/#")]
    public void A_filter_no_client_could_subscribe_or_a_shared_one_opens_no_watch(string filter)
    {
        Assert.Null(_broker.Watch(filter, static _ => { }));
        Assert.Equal(0, _broker.Router.Watches.Count);
    }

    [Fact]
    public async Task A_throwing_watch_is_logged_and_stops_neither_the_publisher_nor_other_watches()
    {
        var seen = new ConcurrentQueue<MqttMessage>();
        using var failing = _broker.Watch("watch/#", static _ => throw new InvalidOperationException("panel failed"));
        using var working = _broker.Watch("watch/#", seen.Enqueue);
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "subscriber");
        await subscriber.SubscribeAsync("watch/#");
        await using var publisher = await PipeClient.ConnectAsync(_broker, "publisher");

        await publisher.PublishAndWaitAsync("watch/robust", "yes");

        Assert.Equal("yes", (await subscriber.ExpectPublishAsync()).PayloadText);
        Assert.Equal(["watch/robust"], seen.Select(static m => m.Topic));
        var entry = Assert.Single(_log.Entries, static e => e.EventId == 1017);
        Assert.Equal("A watch of the topic filter 'watch/#' failed on a message", entry.Message);
        Assert.IsType<InvalidOperationException>(entry.Exception);
    }
}
