using System.IO.Pipelines;
using System.Text;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Tests.Support;
using IoTHub.Testing;
using IoTHub.Broker.Wills;
using IoTHub.Mqtt;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// The session registry called directly, with connections that never run: binding, takeover, the end of a session
/// (with its connection, by Clean Start, by expiry, by an administrator) and what happens to a held will then
/// (3.1.1 §3.1.2.4, 5.0 §3.1.2.4, §3.1.2.11.2, §3.1.3.2.2).
/// </summary>
public sealed class SessionRegistryTests : IAsyncDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly MqttBroker _broker;
    private readonly Session _willWatcher = new("watcher") { ExpiryInterval = 3600 };

    public SessionRegistryTests()
    {
        _broker = new MqttBroker(new BrokerOptions(), time: _time);
        _broker.Router.Subscribe(_willWatcher, "wills/#", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0, [], out _);
    }

    public ValueTask DisposeAsync() => _broker.DisposeAsync();

    private SessionRegistry Registry => _broker.Registry;

    private MqttConnection NewConnection() =>
        new(_broker, new DuplexPipe(new Pipe().Reader, new Pipe().Writer), PipeClient.Connection);

    private bool Attach(MqttConnection connection, string clientId, bool cleanStart = false, uint expiry = 60) =>
        Registry.Attach(connection, clientId, cleanStart, expiry, new ConnAckPacket()) == true;

    private static Will DelayedWill(string clientId, uint delay) => new(
        new WillMessage { Topic = $"wills/{clientId}", Payload = Encoding.UTF8.GetBytes("gone"), QualityOfService = QualityOfService.AtLeastOnce,
            Properties = new MqttProperties { WillDelayInterval = delay } },
        clientId);

    private List<string> PublishedWills() => [.. _willWatcher.GetQueued().Select(d => d.Message.Topic)];

    // [MQTT-3.1.4-3]: a second connection with the same client id closes the first; the session continues [MQTT-3.2.2-2].
    [Fact]
    public void A_second_connection_takes_the_session_over()
    {
        var first = NewConnection();
        var second = NewConnection();

        Assert.False(Attach(first, "dev"));
        var session = Registry.Find("dev")!;
        Assert.True(Attach(second, "dev"));

        Assert.Same(session, Registry.Find("dev"));
        Assert.Same(second, session.Connection);
        Assert.True(first.IsClosing);
        Assert.False(second.IsClosing);

        // The first connection's end, coming later, no longer touches the session.
        Assert.False(Registry.Detach(first, session, will: null));
        Assert.Same(second, session.Connection);
    }

    // [MQTT-3.1.2-4]: Clean Start discards the existing session and begins a new one.
    [Fact]
    public void Clean_start_ends_the_old_session_and_its_subscriptions()
    {
        var first = NewConnection();
        Attach(first, "dev");
        var old = Registry.Find("dev")!;
        _broker.Router.Subscribe(old, "a/#", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0, [], out _);
        Registry.Detach(first, old, will: null);

        Assert.False(Attach(NewConnection(), "dev", cleanStart: true));

        Assert.NotSame(old, Registry.Find("dev"));
        Assert.True(old.Discarded);
        Assert.Equal(1, _broker.SubscriptionCount); // only the watcher's
    }

    // 5.0 §3.1.2.11.2 / 3.1.1 [MQTT-3.1.2-6]: an expiry of 0 ends the session with its connection.
    [Fact]
    public void A_session_with_expiry_zero_ends_with_its_connection()
    {
        var connection = NewConnection();
        Attach(connection, "dev", expiry: 0);

        Assert.True(Registry.Detach(connection, Registry.Find("dev")!, will: null));

        Assert.Null(Registry.Find("dev"));
    }

    // [MQTT-3.1.2-23]: the server deletes an offline session once its Session Expiry Interval has passed, not before.
    [Fact]
    public void An_offline_session_ends_when_its_expiry_interval_has_passed()
    {
        var connection = NewConnection();
        Attach(connection, "dev", expiry: 10);
        Registry.Detach(connection, Registry.Find("dev")!, will: null);

        _time.Advance(TimeSpan.FromSeconds(9));
        Registry.Expire(_time.GetTimestamp());
        Assert.NotNull(Registry.Find("dev"));

        _time.Advance(TimeSpan.FromSeconds(2));
        Registry.Expire(_time.GetTimestamp());
        Assert.Null(Registry.Find("dev"));
    }

    // [MQTT-3.1.3-9]: a client back before the Will Delay Interval passed cancels its will.
    [Fact]
    public void A_client_back_within_the_will_delay_cancels_its_will()
    {
        var connection = NewConnection();
        Attach(connection, "dev");
        Assert.True(Registry.Detach(connection, Registry.Find("dev")!, DelayedWill("dev", delay: 30)));
        Assert.Equal(1, _broker.PendingWillCount);

        Assert.True(Attach(NewConnection(), "dev"));

        Assert.Equal(0, _broker.PendingWillCount);
        Assert.Empty(PublishedWills());
    }

    // 5.0 §3.1.3.2.2: the will goes when its delay or its session ends, whichever comes first; a Clean Start ends the
    // session, and so does its expiry.
    [Theory]
    [InlineData("clean start")]
    [InlineData("expiry")]
    [InlineData("administrator")]
    public void A_held_will_is_published_when_its_session_ends_first(string end)
    {
        var connection = NewConnection();
        Attach(connection, "dev", expiry: 10);
        Registry.Detach(connection, Registry.Find("dev")!, DelayedWill("dev", delay: 300));
        Assert.Empty(PublishedWills());

        switch (end)
        {
            case "clean start":
                Attach(NewConnection(), "dev", cleanStart: true);
                break;
            case "expiry":
                _time.Advance(TimeSpan.FromSeconds(11));
                Registry.Expire(_time.GetTimestamp());
                break;
            default:
                Assert.True(Registry.Delete("dev", out var toClose));
                Assert.Null(toClose);
                break;
        }

        Assert.Equal(["wills/dev"], PublishedWills());
        Assert.Equal(0, _broker.PendingWillCount);
    }

    // In a cluster, a client id claimed by another node: the session leaves this node without a delete from the store (the other node
    // reads it there), its subscriptions leave the tree, and a will held for its delay follows the local takeover's rules: cancelled
    // when the session continues there [MQTT-3.1.3-9], published when a clean start there ends it (5.0 §3.1.3.2.2).
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_session_given_up_to_another_node_leaves_with_its_held_will_cancelled_or_published(bool continues)
    {
        var connection = NewConnection();
        Attach(connection, "dev", expiry: 10);
        var session = Registry.Find("dev")!;
        _broker.Router.Subscribe(session, "a/#", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0, [], out _);
        Registry.Detach(connection, session, DelayedWill("dev", delay: 300));

        Assert.True(Registry.GiveUp("dev", continues));

        Assert.Null(Registry.Find("dev"));
        Assert.True(session.Discarded);
        Assert.Equal(1, _broker.SubscriptionCount); // only the watcher's
        Assert.Equal(0, _broker.PendingWillCount);
        Assert.Equal(continues ? [] : ["wills/dev"], PublishedWills());
        Assert.False(Registry.GiveUp("dev", continues));
    }

    // The live connection of a session given up is closed (5.0: DISCONNECT 0x8E); its will goes as on a local takeover: at once with a
    // delay of 0, not at all with a delay when the session continues on the other node.
    [Theory]
    [InlineData(0u, true)]
    [InlineData(30u, false)]
    public void The_live_connection_of_a_session_given_up_is_closed_and_its_will_follows_the_local_rules(uint delay, bool published)
    {
        var connection = NewConnection();
        Attach(connection, "dev", expiry: 10);
        var session = Registry.Find("dev")!;

        Assert.True(Registry.GiveUp("dev", continues: true));

        Assert.True(connection.IsClosing);
        Assert.False(Registry.Detach(connection, session, DelayedWill("dev", delay)));
        Assert.Equal(published ? ["wills/dev"] : [], PublishedWills());
        Assert.Equal(0, _broker.PendingWillCount);
    }
}
