using IoTHub.Broker.Inspection;
using IoTHub.Broker.Sessions;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Routing;

/// <summary>
/// One session's subscription to one topic filter. A shared subscription (<c>$share/{group}/{filter}</c>,
/// or <c>$queue/{filter}</c>) has its group in <see cref="ShareGroup"/> and matches through
/// <see cref="MatchFilter"/>, the filter after the group.
/// </summary>
internal sealed record Subscription(Session Session, string TopicFilter, SubscriptionOptions Options, uint SubscriptionId) : IDenseTableEntry
{
    /// <summary>The prefix EMQX uses for a shared subscription with one implicit group.</summary>
    public const string QueuePrefix = "$queue/";

    /// <summary>The group of a <c>$queue/</c> subscription.</summary>
    private const string QueueGroup = "$queue";

    private readonly (string? Group, string Filter) _parts = Parse(TopicFilter);

    /// <summary>The session's client id, kept here so that a walk over every subscription (the admin list) does not read each session.</summary>
    public string ClientId { get; } = Session.ClientId;

    /// <summary>Its slot in the tree's table of subscriptions; -1 when it is in none.</summary>
    public int TableSlot { get; set; } = -1;

    /// <summary>The share group; null for an ordinary subscription.</summary>
    public string? ShareGroup => _parts.Group;

    /// <summary>The filter topics are matched against.</summary>
    public string MatchFilter => _parts.Filter;

    /// <summary>True when <paramref name="sharedFilter"/> (<c>$share/{group}/{filter}</c> or <c>$queue/{filter}</c>) names this subscription's group and filter.</summary>
    public bool IsMemberOf(string sharedFilter)
    {
        if (ShareGroup is null)
        {
            return false;
        }

        if (TopicRules.TryParseShared(sharedFilter, out var group, out var filter))
        {
            return sharedFilter.AsSpan(group).SequenceEqual(ShareGroup) && sharedFilter.AsSpan(filter).SequenceEqual(MatchFilter);
        }

        return sharedFilter.StartsWith(QueuePrefix, StringComparison.Ordinal) && ShareGroup == QueueGroup
            && sharedFilter.AsSpan(QueuePrefix.Length).SequenceEqual(MatchFilter);
    }

    /// <summary>Splits a filter into its share group (null when not shared) and the filter matched against topics.</summary>
    public static (string? Group, string Filter) Parse(string topicFilter)
    {
        if (TopicRules.TryParseShared(topicFilter, out var group, out var filter))
        {
            return (topicFilter[group], topicFilter[filter]);
        }

        return topicFilter.StartsWith(QueuePrefix, StringComparison.Ordinal)
            ? (QueueGroup, topicFilter[QueuePrefix.Length..])
            : (null, topicFilter);
    }
}
