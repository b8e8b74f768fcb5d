using System.Text;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests.Inspection;

/// <summary>
/// What the admin API and the client page read of one client: its connection's terms and will, when its offline session
/// ends, why its last connection ended, and its own counters of traffic and drops.
/// </summary>
public sealed class ClientDetailTests : IAsyncLifetime
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
    private MqttBroker _broker = null!;

    public Task InitializeAsync()
    {
        _broker = TestBroker.Start(time: _time);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task A_connected_client_shows_its_keep_alive_clean_start_listener_transport_and_will()
    {
        var client = PipeClient.Open(_broker, V5);
        await using var _ = client;
        await client.ConnectAcceptedAsync(new ConnectPacket
        {
            ProtocolVersion = V5,
            ClientId = "detailed",
            CleanStart = false,
            KeepAlive = 45,
            Properties = new MqttProperties { SessionExpiryInterval = 600 },
            Will = new WillMessage
            {
                Topic = "status/detailed", Payload = Encoding.UTF8.GetBytes("gone"), QualityOfService = QualityOfService.AtLeastOnce, Retain = true,
                Properties = new MqttProperties { WillDelayInterval = 30, MessageExpiryInterval = 120 },
            },
        });

        var session = _broker.GetSession("detailed")!.Value;
        Assert.Equal((ushort)45, session.KeepAlive);
        Assert.False(session.CleanStart);
        Assert.Equal((PipeClient.Connection.Listener, TransportKind.Tcp), (session.Listener, session.Transport));
        Assert.Equal(_time.GetUtcNow(), session.ConnectedAt);
        Assert.Null(session.ExpiresAt);
        Assert.Null(session.DisconnectedAt);
        Assert.Null(session.LastDisconnectReason);
        Assert.Equal(new WillSnapshot("status/detailed", QualityOfService.AtLeastOnce, true, 30, 120), _broker.GetWill("detailed"));
    }

    [Fact]
    public async Task A_normal_disconnect_deletes_the_will_shown_and_the_offline_session_says_when_it_ends_and_why()
    {
        // [MQTT-3.14.4-3] a normal DISCONNECT deletes the will: the page must not show one that will never go.
        var client = await PipeClient.ConnectAsync(_broker, "leaving", V5, cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 600 });
        await client.DisconnectAsync();
        await Poll.UntilAsync(() => _broker.GetSession("leaving") is { IsConnected: false });
        await client.DisposeAsync();
        var disconnectedAt = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromSeconds(100));

        var session = _broker.GetSession("leaving")!.Value;
        Assert.Null(_broker.GetWill("leaving"));
        Assert.Equal("DISCONNECT", session.LastDisconnectReason);
        Assert.Equal(disconnectedAt, session.DisconnectedAt);
        Assert.Equal(disconnectedAt.AddSeconds(600), session.ExpiresAt);
        Assert.Null(session.KeepAlive);
        Assert.Null(session.CleanStart);
        Assert.Null(session.Listener);

        // Back again: connected, with the reason its previous connection ended.
        await using var back = await PipeClient.ConnectAsync(_broker, "leaving", V5, cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = 600 });
        session = _broker.GetSession("leaving")!.Value;
        Assert.True(session.IsConnected);
        Assert.Equal("DISCONNECT", session.LastDisconnectReason);
        Assert.Null(session.ExpiresAt);
    }

    [Fact]
    public async Task A_session_that_never_expires_has_no_end()
    {
        var client = await PipeClient.ConnectAsync(_broker, "forever", V5, cleanStart: false, properties: new MqttProperties { SessionExpiryInterval = uint.MaxValue });
        await client.DropAsync();
        await Poll.UntilAsync(() => _broker.GetSession("forever") is { IsConnected: false });
        await client.DisposeAsync();

        var session = _broker.GetSession("forever")!.Value;
        Assert.Null(session.ExpiresAt);
        Assert.NotNull(session.DisconnectedAt);
        Assert.Equal("connection closed by the client", session.LastDisconnectReason);
    }

    [Fact]
    public async Task Each_client_counts_its_own_messages_and_bytes_in_and_out()
    {
        await using var subscriber = await PipeClient.ConnectAsync(_broker, "counted-sub");
        await subscriber.SubscribeAsync("counted/#", QualityOfService.AtLeastOnce);
        await using var publisher = await PipeClient.ConnectAsync(_broker, "counted-pub");
        await using var other = await PipeClient.ConnectAsync(_broker, "not-counted");

        await publisher.PublishAndWaitAsync("counted/a", "abcd");
        await publisher.PublishAsync("counted/b", "abcd");
        await subscriber.ExpectPublishAsync();
        await subscriber.ExpectPublishAsync();

        // 3.1.1 CONNECT of an 11-character client id, no will nor credentials: 2 + 10 + 2 + 11 bytes; CONNACK 4. PUBLISH of "counted/a" and
        // "abcd": 2 + 2 + 9 + 4 bytes at QoS 0, 2 more for the packet id at QoS 1; PUBACK 4; SUBSCRIBE of "counted/#": 2 + 2 + 2 + 9 + 1; SUBACK 5.
        var pub = _broker.GetSession("counted-pub")!.Value.Counters;
        await Poll.UntilAsync(() => pub.MessagesIn == 2);
        Assert.Equal((2L, 25L + 19 + 17, 0L), (pub.MessagesIn, pub.BytesIn, pub.MessagesOut));
        await Poll.UntilAsync(() => pub.BytesOut == 4 + 4);
        var sub = _broker.GetSession("counted-sub")!.Value.Counters;
        await Poll.UntilAsync(() => sub.MessagesOut == 2);
        Assert.Equal((0L, 2L, 4L + 5 + 19 + 17), (sub.MessagesIn, sub.MessagesOut, sub.BytesOut));
        Assert.Equal(25L + 16, sub.BytesIn);
        var untouched = _broker.GetSession("not-counted")!.Value.Counters;
        Assert.Equal((0L, 0L), (untouched.MessagesIn, untouched.MessagesOut));
    }

    [Fact]
    public async Task Each_session_counts_what_was_dropped_for_it_by_reason()
    {
        await _broker.DisposeAsync();
        _broker = TestBroker.Start(static o => o.MaximumQueuedMessages = 1, _time);
        var offline = await PipeClient.ConnectAsync(_broker, "dropping", cleanStart: false);
        await offline.SubscribeAsync("drops/#", QualityOfService.AtLeastOnce);
        await offline.DisconnectAsync();
        await Poll.UntilAsync(() => _broker.GetSession("dropping") is { IsConnected: false });
        await offline.DisposeAsync();
        await using var publisher = await PipeClient.ConnectAsync(_broker, "dropper", V5);

        await publisher.PublishAsync("drops/qos0", "x");
        await publisher.PublishAsync("drops/qos1", "x", QualityOfService.AtLeastOnce);
        await publisher.PublishAsync("drops/qos1", "y", QualityOfService.AtLeastOnce);
        await publisher.ExpectAckAsync(PacketType.PubAck);
        await publisher.ExpectAckAsync(PacketType.PubAck);

        // A topic rule refuses it ('$' topics are the broker's): counted for its publisher [MQTT-4.7.2-1].
        await publisher.PublishAsync("$SYS/fake", "x", QualityOfService.AtLeastOnce);
        await publisher.ExpectAckAsync(PacketType.PubAck);

        var counters = _broker.GetSession("dropping")!.Value.Counters;
        Assert.Equal(1, counters.Dropped(DropReason.OfflineQoS0));
        Assert.Equal(1, counters.Dropped(DropReason.QueueFull));
        Assert.Equal(0, counters.Dropped(DropReason.PublishRefused));
        var own = _broker.GetSession("dropper")!.Value.Counters;
        Assert.Equal(1, own.Dropped(DropReason.PublishRefused));
        Assert.Equal(0, own.Dropped(DropReason.QueueFull));
        Assert.Equal(1, _broker.GetSession("dropping")!.Value.QueueFullDrops);
    }
}
