using System.Text;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Retained;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Sessions;
using IoTHub.Mqtt;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTHub.Broker.Tests;

/// <summary>
/// The router alone, with offline sessions and no connection: who gets a message, at which QoS, how often, and
/// which retained messages a new subscription brings (MQTT 5.0 §3.3.4, §3.8.3.1, §4.8.2).
/// </summary>
public sealed class MessageRouterTests
{
    private readonly BrokerStatistics _statistics = new();
    private readonly MessageRouter _router;

    public MessageRouterTests() =>
        _router = new MessageRouter(new BrokerOptions { QueueQoS0WhileOffline = true }, _statistics, TimeProvider.System, NullLogger.Instance);

    private static MqttMessage Message(string topic, QualityOfService qos = QualityOfService.ExactlyOnce, bool retain = false, string? publisher = null) =>
        MqttMessage.Create(topic, Encoding.UTF8.GetBytes(topic), qos, retain, publisherId: publisher);

    private Session Subscribed(string clientId, params (string Filter, SubscriptionOptions Options, uint Id)[] filters)
    {
        var session = new Session(clientId) { ExpiryInterval = 60 };
        foreach (var (filter, options, id) in filters)
        {
            Assert.Equal(SubscribeOutcome.Subscribed, _router.Subscribe(session, filter, options, id, [], out _));
        }

        return session;
    }

    // [MQTT-3.3.4-2]: the highest QoS of the overlapping subscriptions, never above the published one; one copy with every
    // subscription identifier [MQTT-3.3.4-3] (5.0 §3.3.4: the server sends one message with all of them).
    [Fact]
    public void Overlapping_subscriptions_give_one_copy_with_the_highest_qos_and_every_identifier()
    {
        var session = Subscribed("a",
            ("room/+/temp", new SubscriptionOptions(QualityOfService.AtMostOnce), 1),
            ("room/#", new SubscriptionOptions(QualityOfService.AtLeastOnce), 2));

        Assert.Equal(1, _router.Route(Message("room/1/temp", QualityOfService.ExactlyOnce)));

        var delivery = Assert.Single(session.GetQueued());
        Assert.Equal(QualityOfService.AtLeastOnce, delivery.QualityOfService);
        Assert.Equal([1u, 2u], delivery.SubscriptionIds!.Order());
        Assert.False(delivery.Retain);
    }

    // [MQTT-3.8.3-3]: No Local keeps a client's own messages from it; another client's still arrive.
    [Fact]
    public void No_local_skips_only_the_publishers_own_messages()
    {
        var session = Subscribed("a", ("t", new SubscriptionOptions(QualityOfService.AtLeastOnce, NoLocal: true), 0));

        Assert.Equal(0, _router.Route(Message("t", publisher: "a")));
        Assert.Equal(1, _router.Route(Message("t", publisher: "b")));

        Assert.Equal("b", Assert.Single(session.GetQueued()).Message.PublisherId);
    }

    // [MQTT-3.3.1-12]: RETAIN is 0 on live delivery unless the subscription asks for Retain As Published.
    [Fact]
    public void Retain_is_kept_on_live_delivery_only_with_retain_as_published()
    {
        var plain = Subscribed("plain", ("t", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        var asPublished = Subscribed("rap", ("t", new SubscriptionOptions(QualityOfService.AtLeastOnce, RetainAsPublished: true), 0));

        _router.Route(Message("t", retain: true));

        Assert.False(Assert.Single(plain.GetQueued()).Retain);
        Assert.True(Assert.Single(asPublished.GetQueued()).Retain);
    }

    // 5.0 §4.8.2: each message of a shared subscription goes to exactly one member of the group.
    [Fact]
    public void A_shared_subscription_gives_each_message_to_one_member()
    {
        var members = Enumerable.Range(0, 3)
            .Select(i => Subscribed($"m{i}", ("$share/g/jobs/#", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0)))
            .ToList();

        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(1, _router.Route(Message($"jobs/{i}")));
        }

        var received = members.SelectMany(member => member.GetQueued()).Select(d => d.Message.Topic).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"jobs/{i}").Order(), received);
    }

    // [MQTT-3.3.1-8], §3.8.3.1: a new subscription brings the matching retained messages with RETAIN set, as its
    // Retain Handling asks; a repeated subscription only with handling 0.
    [Fact]
    public void A_subscription_collects_the_retained_messages_its_retain_handling_asks_for()
    {
        _router.Retained.Set(Message("state/1", QualityOfService.ExactlyOnce, retain: true));
        _router.Retained.Set(Message("state/2", QualityOfService.AtMostOnce, retain: true));
        var session = new Session("a");

        var feeds = new List<RetainedFeed>();
        _router.Subscribe(session, "state/+", new SubscriptionOptions(QualityOfService.AtLeastOnce, RetainHandling: RetainHandling.SendAtSubscribeIfNew), 0, feeds, out _);
        var first = new List<Delivery>();
        while (Assert.Single(feeds).TryTake(out var delivery))
        {
            first.Add(delivery);
        }

        Assert.Equal(["state/1", "state/2"], first.Select(d => d.Message.Topic).Order());
        Assert.All(first, d => Assert.True(d.Retain));
        Assert.Equal(QualityOfService.AtLeastOnce, first.Single(d => d.Message.Topic == "state/1").QualityOfService);

        var again = new List<RetainedFeed>();
        _router.Subscribe(session, "state/+", new SubscriptionOptions(QualityOfService.AtLeastOnce, RetainHandling: RetainHandling.SendAtSubscribeIfNew), 0, again, out _);
        Assert.Empty(again);

        var never = new List<RetainedFeed>();
        _router.Subscribe(new Session("b"), "state/#", new SubscriptionOptions(QualityOfService.AtLeastOnce, RetainHandling: RetainHandling.DoNotSend), 0, never, out _);
        Assert.Empty(never);
    }

    // [MQTT-3.8.4-6]: the granted QoS is at most the server's maximum.
    [Fact]
    public void A_subscription_is_granted_at_most_the_brokers_maximum_qos()
    {
        var router = new MessageRouter(new BrokerOptions { MaximumQoS = QualityOfService.AtLeastOnce }, _statistics, TimeProvider.System, NullLogger.Instance);

        Assert.Equal(SubscribeOutcome.Subscribed,
            router.Subscribe(new Session("a"), "t", new SubscriptionOptions(QualityOfService.ExactlyOnce), 0, [], out var granted));

        Assert.Equal(QualityOfService.AtLeastOnce, granted);
        Assert.Equal(SubscribeOutcome.InvalidFilter, router.Subscribe(new Session("b"), "a/#/b", new SubscriptionOptions(QualityOfService.AtMostOnce), 0, [], out _));
    }

    [Fact]
    public void A_message_nobody_subscribed_to_is_counted_as_dropped_and_unsubscribe_stops_delivery()
    {
        var session = Subscribed("a", ("t", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        Assert.True(_router.Unsubscribe(session, "t"));
        Assert.False(_router.Unsubscribe(session, "t"));

        Assert.Equal(0, _router.Route(Message("t")));

        Assert.Empty(session.GetQueued());
        Assert.Equal(1, _statistics.MessagesDropped);
    }

    // Cross-node routing's seam (docs/clustering.md): what is routed is also offered to the other nodes, and counts as reached
    // when one takes it; a message another node forwarded is delivered here only and never offered again.
    [Fact]
    public void Attached_remote_routes_learn_the_filters_and_get_routed_messages_but_not_forwarded_ones()
    {
        var before = Subscribed("a", ("room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        var remote = new RecordingRemote { Nodes = 1 };
        _router.AttachRemote(remote);
        Assert.Equal([("room/+", true)], remote.Changes);

        Assert.Equal(2, _router.Route(Message("room/1")));
        Assert.Equal(1, _router.Route(Message("elsewhere")));
        Assert.Equal(0, _statistics.MessagesDropped);
        Assert.Equal(1, _router.RouteForwarded(Message("room/2"), toSubscribers: true, sharedGroups: []));
        Assert.Equal(["room/1", "elsewhere"], remote.Forwarded);
        Assert.Equal(2, before.GetQueued().Count);

        // A filter is one entry however many sessions subscribe to it; a share group is its own entry, its full filter, as its
        // members and the filter's ordinary subscribers come and go apart.
        var second = Subscribed("b", ("room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0), ("$share/g/room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        var third = Subscribed("c", ("$share/g/room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        Assert.Equal([("room/+", true), ("$share/g/room/+", true)], remote.Changes);
        Assert.True(_router.Unsubscribe(before, "room/+"));
        Assert.True(_router.Unsubscribe(second, "$share/g/room/+"));
        Assert.Equal(2, remote.Changes.Count);
        Assert.True(_router.Unsubscribe(second, "room/+"));
        Assert.True(_router.Unsubscribe(third, "$share/g/room/+"));
        Assert.Equal([("room/+", true), ("$share/g/room/+", true), ("room/+", false), ("$share/g/room/+", false)], remote.Changes);
    }

    // 5.0 §4.8.2: a share group gets a message once across the cluster. The remote routes see this node's members of the matching
    // groups and may give a group's turn to another node; then no member here gets it, while ordinary subscribers still do.
    [Fact]
    public void A_share_groups_turn_given_to_another_node_keeps_it_from_the_members_here()
    {
        var plain = Subscribed("plain", ("room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        var member = Subscribed("member", ("$share/g/room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        var other = Subscribed("other", ("$share/h/room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        var remote = new RecordingRemote { Nodes = 1, GiveAway = ("g", "room/+") };
        _router.AttachRemote(remote);

        Assert.Equal(3, _router.Route(Message("room/1")));
        Assert.Equal([("g", "room/+"), ("h", "room/+")], remote.GroupsSeen.Order());
        Assert.Single(plain.GetQueued());
        Assert.Empty(member.GetQueued());
        Assert.Single(other.GetQueued());
        Assert.Equal(0, _statistics.MessagesDropped);
    }

    // The node a share group's turn was given to: one of its members gets the message; ordinary subscribers only when the
    // publishing node sent it for them too, and the members of groups whose turn went elsewhere not at all.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_forwarded_message_reaches_only_the_groups_whose_turn_this_node_has(bool toSubscribers)
    {
        var plain = Subscribed("plain", ("room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        var members = new[]
        {
            Subscribed("g1", ("$share/g/room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0)),
            Subscribed("g2", ("$share/g/room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0)),
        };
        var queueMember = Subscribed("q", ("$queue/room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        var notChosen = Subscribed("h", ("$share/h/room/+", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));

        Assert.Equal(toSubscribers ? 3 : 2, _router.RouteForwarded(Message("room/1"), toSubscribers, ["$share/g/room/+", "$queue/room/+"]));

        Assert.Equal(toSubscribers ? 1 : 0, plain.GetQueued().Count);
        Assert.Equal(1, members.Sum(m => m.GetQueued().Count));
        Assert.Single(queueMember.GetQueued());
        Assert.Empty(notChosen.GetQueued());
    }

    private sealed class RecordingRemote : IRemoteRoutes
    {
        public int Nodes { get; init; }

        /// <summary>A share group (group, filter) whose turn this remote gives to another node.</summary>
        public (string Group, string Filter)? GiveAway { get; init; }

        public List<(string, bool)> Changes { get; } = [];

        public List<string> Forwarded { get; } = [];

        public List<(string, string)> GroupsSeen { get; } = [];

        public void LocalFilterChanged(string filter, bool subscribed) => Changes.Add((filter, subscribed));

        public void ShareRetained(MqttMessage message) => Forwarded.Add("retained " + message.Topic);

        public void BeginBatch()
        {
        }

        public void EndBatch()
        {
        }

        /// <summary>What a forwarded message's acknowledgement waits for (the other nodes' acceptance).</summary>
        public Task? Accepted { get; set; }

        public int Forward(MqttMessage message, LocalShares shares, out Task? accepted)
        {
            accepted = Accepted;
            Forwarded.Add(message.Topic);
            foreach (var (group, filter) in new[] { ("g", "room/+"), ("h", "room/+"), ("x", "room/+") })
            {
                if (shares.Has(group, filter))
                {
                    GroupsSeen.Add((group, filter));
                }
            }

            if (GiveAway is { } away)
            {
                shares.GiveAway(away.Group, away.Filter);
            }

            return Nodes;
        }
    }
}
