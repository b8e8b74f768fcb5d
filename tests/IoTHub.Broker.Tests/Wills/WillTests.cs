using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>Will messages (3.1.1 §3.1.2.5, 5.0 §3.1.2.5 and §3.1.3.2).</summary>
public sealed class WillTests : IAsyncLifetime
{
    private readonly MqttBroker _broker = TestBroker.Start();
    private MqttTestClient? _watcher;

    public async Task InitializeAsync()
    {
        _watcher = await PipeClient.ConnectAsync(_broker, "watcher", MqttProtocolVersion.V500);
        await _watcher.SubscribeAsync("wills/#", QualityOfService.AtLeastOnce);
        await _watcher.SubscribeAsync("marker");
    }

    public async Task DisposeAsync()
    {
        await _watcher!.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private Task<MqttTestClient> WithWillAsync(string clientId, MqttProtocolVersion version = MqttProtocolVersion.V311, uint? delay = null,
        uint? sessionExpiry = null, bool cleanStart = true, ushort keepAlive = 0, QualityOfService qos = QualityOfService.AtLeastOnce, bool retain = false)
    {
        var client = PipeClient.Open(_broker, version);
        return ConnectAsync();

        async Task<MqttTestClient> ConnectAsync()
        {
            var connAck = await client.ConnectRawAsync(new ConnectPacket
            {
                ProtocolVersion = version,
                ClientId = clientId,
                CleanStart = cleanStart,
                KeepAlive = keepAlive,
                Properties = sessionExpiry is null ? null : new MqttProperties { SessionExpiryInterval = sessionExpiry },
                Will = new WillMessage
                {
                    Topic = "wills/" + clientId,
                    Payload = "gone"u8.ToArray(),
                    QualityOfService = qos,
                    Retain = retain,
                    Properties = version == MqttProtocolVersion.V500
                        ? new MqttProperties { WillDelayInterval = delay, ContentType = "text/plain", UserProperties = [new("why", "test")] }
                        : null,
                },
            });
            Assert.Equal(ReasonCode.Success, connAck.ReasonCode);
            return client;
        }
    }

    /// <summary>Publishes a marker and returns what the watcher got before it.</summary>
    private async Task<List<ReceivedPublish>> WillsBeforeMarkerAsync()
    {
        await using var marker = await PipeClient.ConnectAsync(_broker, "marker-" + Guid.NewGuid().ToString("N"));
        await marker.PublishAndWaitAsync("marker", "end");
        var wills = new List<ReceivedPublish>();
        while (true)
        {
            var message = await _watcher!.ExpectPublishAsync();
            if (message.QualityOfService != QualityOfService.AtMostOnce)
            {
                await _watcher.SendAsync(new AckPacket(PacketType.PubAck, message.PacketId));
            }

            if (message.Topic == "marker")
            {
                return wills;
            }

            wills.Add(message);
        }
    }

    // 3.1.1 [MQTT-3.1.2-8] / 5.0 [MQTT-3.1.2-8]: a connection lost without DISCONNECT publishes the will, with its QoS and retain.
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Will_is_published_when_the_connection_is_lost(MqttProtocolVersion version)
    {
        var client = await WithWillAsync("lost-" + version, version, retain: true);
        await client.DropAsync();

        var will = Assert.Single(await WillsBeforeMarkerAsync());
        Assert.Equal("wills/lost-" + version, will.Topic);
        Assert.Equal("gone", will.PayloadText);
        Assert.Equal(QualityOfService.AtLeastOnce, will.QualityOfService);
        Assert.NotNull(_broker.Retained.Get("wills/lost-" + version));
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal("text/plain", will.Properties.ContentType);
            Assert.Equal([new UserProperty("why", "test")], will.Properties.UserProperties);
            Assert.Null(will.Properties.WillDelayInterval);
        }
    }

    // 3.1.1 [MQTT-3.1.2-10] / 5.0 [MQTT-3.1.2-10]: a normal DISCONNECT deletes the will.
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task No_will_after_a_normal_disconnect(MqttProtocolVersion version)
    {
        var client = await WithWillAsync("polite", version);
        await client.DisconnectAsync();

        Assert.Empty(await WillsBeforeMarkerAsync());
    }

    // 5.0 §3.14.2.1: DISCONNECT with reason 0x04 asks for the will.
    [Fact]
    public async Task Disconnect_with_will_message_publishes_it()
    {
        var client = await WithWillAsync("asks", MqttProtocolVersion.V500);
        await client.SendAsync(new DisconnectPacket { ReasonCode = ReasonCode.DisconnectWithWillMessage });
        await client.ExpectClosedAsync();

        Assert.Equal("wills/asks", Assert.Single(await WillsBeforeMarkerAsync()).Topic);
    }

    [Fact]
    public async Task Will_is_published_on_keep_alive_timeout()
    {
        var client = await WithWillAsync("silent", keepAlive: 1);
        await client.ExpectClosedAsync();

        Assert.Equal("wills/silent", Assert.Single(await WillsBeforeMarkerAsync()).Topic);
    }

    [Fact]
    public async Task Will_is_published_on_a_protocol_error()
    {
        var client = await WithWillAsync("rude");
        await client.SendRawAsync([0x36, 3, 0, 1, (byte)'t']);
        await client.ExpectClosedAsync();

        Assert.Equal("wills/rude", Assert.Single(await WillsBeforeMarkerAsync()).Topic);
    }

    // 5.0 §3.1.3.2.2: the will waits for its delay.
    [Fact]
    public async Task Delayed_will_is_published_after_its_delay()
    {
        var client = await WithWillAsync("later", MqttProtocolVersion.V500, delay: 1, sessionExpiry: 60, cleanStart: false);
        var dropped = System.Diagnostics.Stopwatch.StartNew();
        await client.DropAsync();

        Assert.Equal(1, _broker.PendingWillCount);
        var will = await _watcher!.ExpectPublishAsync();
        Assert.Equal("wills/later", will.Topic);
        Assert.True(dropped.Elapsed >= TimeSpan.FromSeconds(0.9), $"published after {dropped.Elapsed}");
    }

    // 5.0 [MQTT-3.1.3-9]: a reconnect to the session (Clean Start 0) before the delay ends cancels the will. A reconnect
    // with Clean Start 1 is no connection to that session but ends it ([MQTT-3.1.2-4]), and a will waits for its delay or
    // the end of its session, whichever is first (§3.1.3.2.2): it goes at once, not after its 300 s.
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task Reconnecting_before_the_delay_cancels_the_will_unless_it_ends_the_session(bool cleanStart, bool published)
    {
        var client = await WithWillAsync("back", MqttProtocolVersion.V500, delay: 300, sessionExpiry: 600, cleanStart: false);
        await client.DropAsync();
        Assert.Equal(1, _broker.PendingWillCount);

        await using var again = await PipeClient.ConnectAsync(_broker, "back", MqttProtocolVersion.V500, cleanStart: cleanStart,
            properties: new MqttProperties { SessionExpiryInterval = 600 });

        Assert.Equal(0, _broker.PendingWillCount);
        Assert.Equal(published ? ["wills/back"] : [], (await WillsBeforeMarkerAsync()).Select(will => will.Topic));
    }

    // 5.0 [MQTT-3.1.3-9]: the will goes when the session ends, if that comes before the delay.
    [Fact]
    public async Task Session_ending_before_the_delay_publishes_the_will()
    {
        var client = await WithWillAsync("short", MqttProtocolVersion.V500, delay: 300, sessionExpiry: 1, cleanStart: false);
        await client.DropAsync();

        Assert.Equal("wills/short", (await _watcher!.ExpectPublishAsync()).Topic);
        Assert.Null(_broker.FindSession("short"));
    }

    // Takeover (5.0 §3.1.2.5, §3.1.3.2.2): published unless the new connection resumes the session and the delay is above zero.
    [Theory]
    [InlineData(MqttProtocolVersion.V311, false, 0u, true)]
    [InlineData(MqttProtocolVersion.V500, false, 0u, true)]
    [InlineData(MqttProtocolVersion.V500, false, 30u, false)]
    [InlineData(MqttProtocolVersion.V500, true, 30u, true)]
    public async Task Takeover_publishes_the_old_will_as_the_specification_says(MqttProtocolVersion version, bool newCleanStart, uint delay, bool published)
    {
        var v5 = version == MqttProtocolVersion.V500;
        var old = await WithWillAsync("taken", version, delay: v5 ? delay : null, sessionExpiry: v5 ? 60 : null, cleanStart: false);

        await using var successor = await PipeClient.ConnectAsync(_broker, "taken", version, cleanStart: newCleanStart,
            properties: v5 ? new MqttProperties { SessionExpiryInterval = 60 } : null);
        await old.ExpectClosedAsync();
        await old.ServerTask.WaitAsync(PipeClient.Timeout);

        var wills = await WillsBeforeMarkerAsync();
        Assert.Equal(published ? 1 : 0, wills.Count);
        Assert.Equal(0, _broker.PendingWillCount);
    }

    [Fact]
    public async Task Will_topics_are_refused_like_publish_topics()
    {
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        var connAck = await client.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = "sys-will",
            Will = new WillMessage { Topic = "$SYS/fake", Payload = [1] },
        });

        Assert.Equal(ReasonCode.TopicNameInvalid, connAck.ReasonCode);
    }
}
