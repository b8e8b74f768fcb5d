using IoTHub.Broker.Routing;

namespace IoTHub.Broker.Tests;

/// <summary>The filters of a few owners (cluster nodes) in the engine's subscription tree: each matching owner once, removal and pruning.</summary>
public sealed class FilterIndexTests
{
    private readonly FilterIndex<string> _index = new();

    private List<string> Match(string topic)
    {
        var owners = new List<string>();
        var shared = new List<SharedMatch<string>>();
        _index.Match(topic, owners, shared);
        return [.. owners.Order(StringComparer.Ordinal)];
    }

    private List<SharedMatch<string>> MatchShared(string topic)
    {
        var shared = new List<SharedMatch<string>>();
        _index.Match(topic, [], shared);
        return [.. shared.OrderBy(m => m.Owner, StringComparer.Ordinal).ThenBy(m => m.Key, StringComparer.Ordinal)];
    }

    [Fact]
    public void Each_owner_with_a_matching_filter_is_found_once()
    {
        _index.Add("room/+/temp", "a");
        _index.Add("room/#", "a");
        _index.Add("room/1/temp", "b");
        _index.Add("room/1/temp", "b");
        _index.Add("#", "c");

        Assert.Equal(["a", "b", "c"], Match("room/1/temp"));
        Assert.Equal(["a", "c"], Match("room"));
        Assert.Empty(Match("$SYS/broker")); // [MQTT-4.7.2-1]
    }

    [Fact]
    public void Removed_filters_and_forgotten_owners_match_no_more_and_leave_the_tree_empty()
    {
        _index.Add("a/b", "a");
        _index.Add("a/+", "b");
        _index.Remove("a/b", "a");
        _index.Forget("a");
        _index.Remove("a/b", "a");

        Assert.Equal(["b"], Match("a/b"));
        _index.Add("a/b", "c");
        Assert.Equal(["b", "c"], Match("a/b"));

        _index.Remove("a/+", "b");
        _index.Remove("a/b", "c");
        Assert.True(_index.IsEmpty);
        Assert.Empty(Match("a/b"));
    }

    [Fact]
    public void A_shared_filter_matches_as_its_filter_and_is_reported_with_its_group_not_as_an_ordinary_one()
    {
        _index.Add("$share/g/room/+", "a");
        _index.Add("$queue/room/#", "a");
        _index.Add("$share/g/room/+", "b");
        _index.Add("room/+", "b");

        Assert.Equal(["b"], Match("room/1"));
        Assert.Equal(
            [new("$queue/room/#", "$queue", "room/#", "a"), new("$share/g/room/+", "g", "room/+", "a"), new SharedMatch<string>("$share/g/room/+", "g", "room/+", "b")],
            MatchShared("room/1"));

        _index.Remove("$share/g/room/+", "a");
        Assert.Equal([new("$queue/room/#", "$queue", "room/#", "a"), new SharedMatch<string>("$share/g/room/+", "g", "room/+", "b")], MatchShared("room/1"));
    }
}
