using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Tests;

/// <summary>Each limit answers with its reason code and leaves other clients alone.</summary>
public sealed class LimitsTests : IAsyncLifetime
{
    private MqttBroker _broker = TestBroker.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    private async Task UseBrokerAsync(Action<BrokerOptions> configure, ILogger<MqttBroker>? logger = null)
    {
        await _broker.DisposeAsync();
        _broker = TestBroker.Start(configure, logger: logger);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, ReasonCode.ServerUnavailable)]
    [InlineData(MqttProtocolVersion.V500, ReasonCode.ServerBusy)]
    public async Task Connections_over_the_limit_are_refused(MqttProtocolVersion version, ReasonCode expected)
    {
        await UseBrokerAsync(o => o.MaximumConnections = 2);
        await using var one = await PipeClient.ConnectAsync(_broker, "one");
        await using var two = await PipeClient.ConnectAsync(_broker, "two");

        await using var three = PipeClient.Open(_broker, version);
        var connAck = await three.ConnectRawAsync(new ConnectPacket { ProtocolVersion = version, ClientId = "three" });

        Assert.Equal(expected, connAck.ReasonCode);
        await three.ExpectClosedAsync();
        Assert.Equal(1, _broker.Statistics.ConnectionsRefused);

        // The others are unaffected.
        await one.SendAsync(PingReqPacket.Instance);
        await one.ExpectAsync<PingRespPacket>();
    }

    [Fact]
    public async Task Topics_over_the_length_or_level_limits_are_refused()
    {
        await UseBrokerAsync(o =>
        {
            o.MaximumTopicLength = 16;
            o.MaximumTopicLevels = 3;
        });
        await using var client = await PipeClient.ConnectAsync(_broker, "c", MqttProtocolVersion.V500);

        await client.PublishAsync("a/very/long/topic/name", "x", QualityOfService.AtLeastOnce);
        Assert.Equal(ReasonCode.TopicNameInvalid, (await client.ExpectAckAsync(PacketType.PubAck)).ReasonCode);
        await client.PublishAsync("a/b/c/d", "x", QualityOfService.AtLeastOnce);
        Assert.Equal(ReasonCode.TopicNameInvalid, (await client.ExpectAckAsync(PacketType.PubAck)).ReasonCode);
        await client.PublishAsync("a/b/c", "x", QualityOfService.AtLeastOnce);

        // Accepted; nobody subscribes to it.
        Assert.Equal(ReasonCode.NoMatchingSubscribers, (await client.ExpectAckAsync(PacketType.PubAck)).ReasonCode);

        Assert.Equal([ReasonCode.TopicFilterInvalid], (await client.SubscribeAsync("a/+/c/#")).ReasonCodes);
        Assert.Equal([ReasonCode.TopicFilterInvalid], (await client.SubscribeAsync("a-very-long-filter/#")).ReasonCodes);
        Assert.Equal([ReasonCode.Success], (await client.SubscribeAsync("a/+/#")).ReasonCodes);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, ReasonCode.UnspecifiedError)]
    [InlineData(MqttProtocolVersion.V500, ReasonCode.QuotaExceeded)]
    public async Task Subscriptions_over_the_limit_are_refused(MqttProtocolVersion version, ReasonCode expected)
    {
        await UseBrokerAsync(o => o.MaximumSubscriptionsPerClient = 2);
        await using var client = await PipeClient.ConnectAsync(_broker, "c", version);
        await client.SubscribeAsync("one");
        await client.SubscribeAsync("two");

        Assert.Equal([expected], (await client.SubscribeAsync("three")).ReasonCodes);

        // Changing an existing subscription is not a new one.
        Assert.Equal([ReasonCode.GrantedQoS1], (await client.SubscribeAsync("two", QualityOfService.AtLeastOnce)).ReasonCodes);
        Assert.Equal(2, _broker.Subscriptions.Count);
    }

    // 5.0 §4.9: more QoS 2 messages awaiting PUBREL than the Receive Maximum we announced gets 0x93.
    [Fact]
    public async Task Incoming_qos2_beyond_the_receive_maximum_is_refused_with_0x93()
    {
        await UseBrokerAsync(o => o.MaximumIncomingInflightMessages = 2);
        await using var client = await PipeClient.ConnectAsync(_broker, "c", MqttProtocolVersion.V500);
        Assert.Equal((ushort)2, client.LastConnAck!.Properties!.ReceiveMaximum);

        for (var i = 0; i < 2; i++)
        {
            await client.PublishAsync("t", "x", QualityOfService.ExactlyOnce);
            await client.ExpectAckAsync(PacketType.PubRec);
        }

        await client.PublishAsync("t", "x", QualityOfService.ExactlyOnce);
        Assert.Equal(ReasonCode.ReceiveMaximumExceeded, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
        await client.ExpectClosedAsync();
    }

    // 5.0 [MQTT-3.3.2-9]: an alias above the announced Topic Alias Maximum is refused with 0x94.
    [Fact]
    public async Task Topic_alias_above_the_maximum_is_refused()
    {
        await UseBrokerAsync(o => o.TopicAliasMaximum = 4);
        await using var client = await PipeClient.ConnectAsync(_broker, "c", MqttProtocolVersion.V500);
        Assert.Equal((ushort)4, client.LastConnAck!.Properties!.TopicAliasMaximum);

        await client.PublishAsync("t", "x", properties: new MqttProperties { TopicAlias = 5 });

        Assert.Equal(ReasonCode.TopicAliasInvalid, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
    }

    [Fact]
    public async Task A_flood_of_refused_connects_is_logged_rate_limited()
    {
        var log = new CapturingLogger<MqttBroker>();
        await UseBrokerAsync(o => { }, log);

        for (var i = 0; i < 60; i++)
        {
            await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V310);
            var connAck = await client.ConnectRawAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V310, ClientId = "" });
            Assert.Equal(ReasonCode.ClientIdentifierNotValid, connAck.ReasonCode);
        }

        var refusals = log.Lines.Where(l => l.Contains("Refused CONNECT", StringComparison.Ordinal)).ToList();
        Assert.Equal(20, refusals.Count);
        Assert.Contains("client id ''", refusals[0], StringComparison.Ordinal);
        Assert.Equal(60, _broker.Statistics.ConnectionsRefused);
    }

    // Issue 14, defect 7: one client publishing to a refused topic in a loop does not fill the log.
    [Fact]
    public async Task A_flood_of_refused_publishes_is_logged_rate_limited()
    {
        var log = new CapturingLogger<MqttBroker>();
        await UseBrokerAsync(o => { }, log);
        await using var client = await PipeClient.ConnectAsync(_broker, "noisy");

        for (var i = 0; i < 60; i++)
        {
            // 3.1.1 acknowledges a refused PUBLISH and drops it [MQTT-3.3.5-2].
            await client.PublishAndWaitAsync("$reserved/" + i, "refused");
        }

        var refusals = log.Lines.Where(l => l.Contains("may not publish", StringComparison.Ordinal)).ToList();
        Assert.Equal(20, refusals.Count);
        Assert.Contains("'$reserved/0'", refusals[0], StringComparison.Ordinal);
        Assert.Equal(60, _broker.Statistics.Dropped(Diagnostics.DropReason.PublishRefused));
    }
}
