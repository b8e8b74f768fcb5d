using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Retained;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Watching;
using IoTHub.Mqtt;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Routing;

/// <summary>
/// Decides who gets a message and hands it over: the subscription tree, the shared subscription groups and the
/// retained messages that match a new subscription. Never waits on a subscriber: a message goes into each chosen
/// session's queue, and a full queue drops by its overflow policy.
/// </summary>
internal sealed class MessageRouter
{
    /// <summary>Seconds between two log lines about one session whose queue stays full.</summary>
    private const long QueueFullLogPeriod = 60;

    [ThreadStatic]
    private static List<Subscription>? t_matches;

    [ThreadStatic]
    private static Dictionary<Session, int>? t_bySession;

    [ThreadStatic]
    private static List<uint[]?>? t_subscriptionIds;

    [ThreadStatic]
    private static List<Subscription>? t_shared;

    [ThreadStatic]
    private static List<Subscription>? t_members;

    private readonly BrokerOptions _options;
    private readonly BrokerStatistics _statistics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SharedGroups _sharedGroups;

    // The other nodes of a cluster; null on a single node, where a publish pays this one null check.
    private IRemoteRoutes? _remote;

    public MessageRouter(BrokerOptions options, BrokerStatistics statistics, TimeProvider time, ILogger logger)
    {
        _options = options;
        _statistics = statistics;
        _time = time;
        _logger = logger;
        _sharedGroups = new SharedGroups(options.SharedSubscriptionStrategy);
        Subscriptions = new SubscriptionTree { SharedSubscriptionEmptied = _sharedGroups.Forget };
        Topics = new TopicPolicy(options);
        Watches = new TopicWatches(logger);
    }

    public SubscriptionTree Subscriptions { get; }

    public RetainedStore Retained { get; } = new();

    /// <summary>The rules for topic names and filters, shared by connections and the admin API.</summary>
    public TopicPolicy Topics { get; }

    /// <summary>The in-process watches every routed message is shown to (the dashboard's watch panel).</summary>
    public TopicWatches Watches { get; }

    /// <summary>Shared subscriptions whose member choice keeps state (round robin, sticky): pruned when a group empties.</summary>
    public int SharedSubscriptionStates => _sharedGroups.Count;

    /// <summary>
    /// Subscribes <paramref name="session"/> to <paramref name="filter"/> as its client's SUBSCRIBE would, for MQTT and
    /// the admin API alike: checks the filter and the quota, grants at most the broker's Maximum QoS ([MQTT-3.8.4-6]),
    /// stores the subscription, and adds to <paramref name="retained"/> the feed of the retained messages its Retain Handling
    /// asks to send now, for the caller to give the session once the subscription is acknowledged.
    /// </summary>
    /// <param name="access">The subscribing client's access, which must allow the filter (a shared one's by its inner filter); null: not checked (the admin API).</param>
    public SubscribeOutcome Subscribe(Session session, string filter, SubscriptionOptions requested, uint subscriptionId, List<RetainedFeed> retained,
        out QualityOfService granted, AclClient? access = null)
    {
        granted = (QualityOfService)Math.Min((int)requested.QualityOfService, (int)_options.MaximumQoS);
        if (!Topics.IsAcceptableFilter(filter))
        {
            return SubscribeOutcome.InvalidFilter;
        }

        if (access is not null && !access.MaySubscribe(Subscription.Parse(filter).Filter))
        {
            return SubscribeOutcome.NotAuthorized;
        }

        if (session.SubscriptionCount >= _options.MaximumSubscriptionsPerClient && !session.HasSubscription(filter))
        {
            return SubscribeOutcome.QuotaExceeded;
        }

        var subscription = new Subscription(session, filter, requested with { QualityOfService = granted }, subscriptionId);
        if (session.Subscribe(subscription, Subscriptions) is not { } isNew)
        {
            return SubscribeOutcome.SessionEnded;
        }

        CollectRetained(subscription, isNew, retained);
        return SubscribeOutcome.Subscribed;
    }

    /// <summary>
    /// The feed of the retained messages matching a new subscription, as its Retain Handling asks (§3.8.3.1); none for a
    /// shared subscription (5.0 §3.3.1.3, §4.8.2).
    /// </summary>
    private void CollectRetained(Subscription subscription, bool isNew, List<RetainedFeed> into)
    {
        var handling = subscription.Options.RetainHandling;
        if (subscription.ShareGroup is not null || handling == RetainHandling.DoNotSend || (handling == RetainHandling.SendAtSubscribeIfNew && !isNew))
        {
            return;
        }

        into.Add(new RetainedFeed(subscription, Retained.Matching(subscription.MatchFilter, _time.GetTimestamp()).GetEnumerator()));
    }

    /// <summary>Removes the session's subscription to <paramref name="filter"/>; false when it had none.</summary>
    public bool Unsubscribe(Session session, string filter) => session.Unsubscribe(filter, Subscriptions);

    /// <summary>Makes this router tell <paramref name="remote"/> of its filters (those it has first) and forward what it routes.</summary>
    public void AttachRemote(IRemoteRoutes remote)
    {
        Subscriptions.AttachFilterListener(remote.LocalFilterChanged);
        Volatile.Write(ref _remote, remote);
    }

    /// <summary>
    /// Hands the message to every session with a matching subscription: one copy per session at the
    /// highest QoS of its matching subscriptions, never above the published QoS ([MQTT-3.3.4-2] and
    /// 3.1.1 §3.3.5), and to one member of each matching shared subscription; in a cluster queues it once for each other node
    /// with a matching subscription, a share group's turn going to one node among those with members. Never waits on a
    /// subscriber. Returns the number of sessions reached plus the nodes it was queued for (watches are not sessions).
    /// </summary>
    public int Route(MqttMessage message) => RouteHere(message, _remote, toSubscribers: true, onlyGroups: null);

    /// <summary>
    /// In a cluster, what this thread routes until <see cref="EndBatch"/> (a connection's read) goes to each other node as one
    /// call: a fan-out's batch of PUBLISH packets stays a batch on the other nodes, where each subscriber then gets it in one write.
    /// </summary>
    public void BeginBatch() => _remote?.BeginBatch();

    /// <summary>Ends the batch <see cref="BeginBatch"/> began: what it forwarded leaves now.</summary>
    public void EndBatch() => _remote?.EndBatch();

    /// <summary>In a cluster, has the other nodes keep a retained message kept here without being routed (or delete theirs).</summary>
    public void ShareRetained(MqttMessage message) => _remote?.ShareRetained(message);

    /// <summary>
    /// A message another node forwarded, to this node's sessions only (never forwarded again): to the ordinary subscriptions when
    /// <paramref name="toSubscribers"/>, and to one member of each share group in <paramref name="sharedGroups"/> (full shared
    /// filters, <c>$share/{group}/{filter}</c>): the groups whose turn the publishing node gave this one.
    /// </summary>
    public int RouteForwarded(MqttMessage message, bool toSubscribers, string[] sharedGroups) =>
        RouteHere(message, remote: null, toSubscribers, sharedGroups);

    /// <param name="onlyGroups">Null: every matching share group; otherwise only these (full shared filters).</param>
    private int RouteHere(MqttMessage message, IRemoteRoutes? remote, bool toSubscribers, string[]? onlyGroups)
    {
        Watches.Show(message);
        var matches = t_matches ??= [];
        var shared = t_shared ??= [];
        Subscriptions.Match(message.Topic, matches);
        try
        {
            TakeShared(matches, shared, onlyGroups);
            if (!toSubscribers)
            {
                matches.Clear();
            }

            var remoteNodes = 0;
            if (remote is not null)
            {
                remoteNodes = remote.Forward(message, new LocalShares(shared), out var accepted);
                if (accepted is not null)
                {
                    // The PUBLISH being handled is acknowledged once the other nodes took it too (docs/clustering.md#acknowledged-forwarding);
                    // taken by no node and by no session here, it went nowhere (a QoS 2 resend is routed afresh).
                    Persistence.WaitFor(matches.Count == 0 && shared.Count == 0 ? ForwardNotAcceptedException.Nowhere(accepted) : accepted);
                }
            }

            if (matches.Count == 0 && shared.Count == 0 && !message.Retain)
            {
                // A retained message is kept; any other goes nowhere (on this node).
                if (remoteNodes == 0)
                {
                    _statistics.MessagesDroppedAdd(DropReason.NoSubscribers);
                }

                return remoteNodes;
            }

            var delivered = remoteNodes + (shared.Count > 0 ? RouteToSharedGroups(message) : 0);
            if (matches.Count <= 1)
            {
                return delivered + (matches.Count == 1 && Deliver(matches[0], message, matches[0].SubscriptionId == 0 ? null : [matches[0].SubscriptionId]) ? 1 : 0);
            }

            return delivered + RouteToEachSessionOnce(message, matches);
        }
        finally
        {
            matches.Clear();
            shared.Clear();
        }
    }

    /// <summary>Moves the shared subscriptions out of <paramref name="matches"/> into <paramref name="shared"/>, those of <paramref name="onlyGroups"/> when given.</summary>
    private static void TakeShared(List<Subscription> matches, List<Subscription> shared, string[]? onlyGroups)
    {
        var kept = 0;
        for (var i = 0; i < matches.Count; i++)
        {
            var match = matches[i];
            if (match.ShareGroup is null)
            {
                matches[kept++] = match;
            }
            else if (onlyGroups is null || IsOneOf(match, onlyGroups))
            {
                shared.Add(match);
            }
        }

        matches.RemoveRange(kept, matches.Count - kept);
    }

    private static bool IsOneOf(Subscription member, string[] sharedFilters)
    {
        foreach (var sharedFilter in sharedFilters)
        {
            if (member.IsMemberOf(sharedFilter))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One member of each matching shared subscription gets the message (5.0 §4.8.2); never retained-as-published.</summary>
    private int RouteToSharedGroups(MqttMessage message, Session? exclude = null)
    {
        var shared = t_shared!;
        var members = t_members ??= [];
        var delivered = 0;
        try
        {
            while (shared.Count > 0)
            {
                // Gather the members of the first group left, then pick one.
                var group = shared[^1];
                for (var i = shared.Count - 1; i >= 0; i--)
                {
                    var candidate = shared[i];
                    if (candidate.ShareGroup == group.ShareGroup && candidate.MatchFilter == group.MatchFilter)
                    {
                        if (!ReferenceEquals(candidate.Session, exclude))
                        {
                            members.Add(candidate);
                        }

                        shared.RemoveAt(i);
                    }
                }

                if (members.Count == 0)
                {
                    // Only when handing over: the departing member was the group's last.
                    _statistics.MessagesDroppedAdd(DropReason.NoSubscribers);
                }
                else
                {
                    while (true)
                    {
                        var chosen = _sharedGroups.Choose(group.TopicFilter, members, message.PublisherId);
                        var qos = (QualityOfService)Math.Min((int)message.QualityOfService, (int)chosen.Options.QualityOfService);
                        var ids = chosen.SubscriptionId == 0 ? null : new[] { chosen.SubscriptionId };
                        if (TryDeliver(chosen.Session, new Delivery(message, qos, Retain: false, ids, chosen), out var sessionEnded))
                        {
                            delivered++;
                            break;
                        }

                        // Its session ended after it was chosen (the member just left): another member has it (5.0 §4.8.2).
                        members.Remove(chosen);
                        if (!sessionEnded || members.Count == 0)
                        {
                            _statistics.MessagesDroppedAdd(DropReason.SessionEnded, sessionEnded ? 1 : 0);
                            break;
                        }
                    }

                    members.Clear();
                }
            }

            return delivered;
        }
        finally
        {
            shared.Clear();
            members.Clear();
        }
    }

    /// <summary>Gives the messages a departing member got through shared subscriptions to the other members.</summary>
    public void HandOverSharedDeliveries(List<Delivery> orphans, Session session)
    {
        foreach (var delivery in orphans)
        {
            var matches = t_matches ??= [];
            Subscriptions.Match(delivery.Message.Topic, matches);
            var shared = t_shared ??= [];
            foreach (var match in matches)
            {
                if (match.ShareGroup == delivery.Shared!.ShareGroup && match.MatchFilter == delivery.Shared.MatchFilter)
                {
                    shared.Add(match);
                }
            }

            matches.Clear();
            if (shared.Count == 0)
            {
                _statistics.MessagesDroppedAdd(DropReason.NoSubscribers);
                continue;
            }

            RouteToSharedGroups(delivery.Message, exclude: session);
        }
    }

    private int RouteToEachSessionOnce(MqttMessage message, List<Subscription> matches)
    {
        var bySession = t_bySession ??= new Dictionary<Session, int>(ReferenceEqualityComparer.Instance);
        var ids = t_subscriptionIds ??= [];
        try
        {
            // One entry per session: the highest QoS of its matching subscriptions, Retain As Published if
            // any asks for it, and every subscription identifier [MQTT-3.3.4-3] (5.0 sends one copy with all).
            var sessions = 0;
            for (var i = 0; i < matches.Count; i++)
            {
                var match = matches[i];
                if (match.Options.NoLocal && match.Session.ClientId == message.PublisherId)
                {
                    continue;
                }

                if (bySession.TryGetValue(match.Session, out var index))
                {
                    var kept = matches[index];
                    var qos = (QualityOfService)Math.Max((int)kept.Options.QualityOfService, (int)match.Options.QualityOfService);
                    var options = kept.Options with
                    {
                        QualityOfService = qos,
                        RetainAsPublished = kept.Options.RetainAsPublished || match.Options.RetainAsPublished,
                    };
                    matches[index] = kept with { Options = options };
                    ids[index] = match.SubscriptionId == 0 ? ids[index] : [.. ids[index] ?? [], match.SubscriptionId];
                }
                else
                {
                    bySession[match.Session] = sessions;
                    matches[sessions] = match;
                    ids.Add(match.SubscriptionId == 0 ? null : [match.SubscriptionId]);
                    sessions++;
                }
            }

            var delivered = 0;
            for (var i = 0; i < sessions; i++)
            {
                if (Deliver(matches[i], message, ids[i]))
                {
                    delivered++;
                }
            }

            return delivered;
        }
        finally
        {
            bySession.Clear();
            ids.Clear();
        }
    }

    private bool Deliver(Subscription subscription, MqttMessage message, uint[]? subscriptionIds)
    {
        var options = subscription.Options;
        if (options.NoLocal && subscription.Session.ClientId == message.PublisherId)
        {
            // [MQTT-3.8.3-3]
            return false;
        }

        var qos = (QualityOfService)Math.Min((int)message.QualityOfService, (int)options.QualityOfService);

        // [MQTT-3.3.1-12] (3.1.1 [MQTT-3.3.1-9]): RETAIN is 0 on live delivery unless Retain As Published.
        var retain = options.RetainAsPublished && message.Retain;
        return Deliver(subscription.Session, new Delivery(message, qos, retain, subscriptionIds));
    }

    public bool Deliver(Session session, in Delivery delivery)
    {
        if (TryDeliver(session, delivery, out var sessionEnded))
        {
            return true;
        }

        _statistics.MessagesDroppedAdd(DropReason.SessionEnded, sessionEnded ? 1 : 0);
        return false;
    }

    /// <summary>
    /// <see cref="Deliver(Session, in Delivery)"/>, except that a session that has ended is only reported in
    /// <paramref name="sessionEnded"/>, not counted: the caller may give the message to another session.
    /// </summary>
    private bool TryDeliver(Session session, in Delivery delivery, out bool sessionEnded)
    {
        sessionEnded = false;
        if (session.Access is { } access && !access.MayReceive(delivery.Message.Topic))
        {
            // A subscription the rules allow may still match topics its client may not read (a deny inside it), retained ones too.
            return false;
        }
        switch (session.Enqueue(delivery, _options, out var dropped))
        {
            case EnqueueResult.Queued:
                return true;
            case EnqueueResult.DroppedOldest:
                CountQueueFullDrops(session, dropped);
                return true;
            case EnqueueResult.DroppedNew:
                CountQueueFullDrops(session, dropped);
                return false;
            case EnqueueResult.SkippedOffline:
                _statistics.MessagesDroppedAdd(DropReason.OfflineQoS0);
                return false;
            default:
                sessionEnded = true;
                return false;
        }
    }

    private void CountQueueFullDrops(Session session, int dropped)
    {
        _statistics.MessagesDroppedAdd(DropReason.QueueFull, dropped);
        var now = _time.GetTimestamp();
        if (session.ShouldLogQueueFull(now, QueueFullLogPeriod * _time.TimestampFrequency))
        {
            BrokerLog.QueueFull(_logger, session.ClientId, _options.QueueOverflowPolicy, session.QueueFullDrops);
        }
    }
}
