using IoTHub.Broker.Routing;
using IoTHub.Cluster.Routing;

namespace IoTHub.Cluster.Tests;

/// <summary>The replica of the other nodes' filters alone: batches in order, gaps, snapshots, purge (matching is the engine's tree: FilterIndexTests).</summary>
public sealed class RouteReplicaTests
{
    private const string NodeA = "127.0.0.1:11111@1";
    private const string NodeB = "127.0.0.1:11112@1";

    private readonly RouteReplica _replica = new();

    private List<string> Match(string topic)
    {
        var nodes = new List<NodeRoutes>();
        _replica.Match(topic, nodes, []);
        return [.. nodes.Select(n => n.Id).Order(StringComparer.Ordinal)];
    }

    private static FilterBatch Batch(long sequence, params (string Filter, bool Subscribed)[] deltas) =>
        new(sequence, [.. deltas.Select(d => new FilterDelta(d.Filter, d.Subscribed))], []);

    [Fact]
    public void BatchesApplyInOrderAndAGapOrARepeatChangesNothing()
    {
        Assert.Equal(BatchOutcome.Applied, _replica.Apply(NodeA, Batch(1, ("a/+", true), ("b/#", true))));
        Assert.Equal(BatchOutcome.Applied, _replica.Apply(NodeA, Batch(2, ("b/#", false))));
        Assert.Equal(BatchOutcome.Stale, _replica.Apply(NodeA, Batch(2, ("c", true))));
        Assert.Equal(BatchOutcome.Gap, _replica.Apply(NodeA, Batch(4, ("d", true))));
        Assert.Equal(2, _replica.Of(NodeA).Sequence);
        Assert.Equal(["a/+"], _replica.Of(NodeA).Filters);

        // Heartbeats: the sender's last number, a gap when it is ahead.
        Assert.Equal(BatchOutcome.Applied, _replica.Apply(NodeA, Batch(2)));
        Assert.Equal(BatchOutcome.Gap, _replica.Apply(NodeA, Batch(3)));
        Assert.Equal(BatchOutcome.Gap, _replica.Apply(NodeB, Batch(5)));
    }

    [Fact]
    public void ASnapshotReplacesTheFiltersUnlessALaterBatchWasApplied()
    {
        _replica.Apply(NodeA, Batch(1, ("old", true), ("kept", true)));

        Assert.True(_replica.ApplySnapshot(NodeA, new FilterSnapshot(5, ["kept", "new/+"], [])));
        Assert.Equal(["kept", "new/+"], _replica.Of(NodeA).Filters.Order(StringComparer.Ordinal));
        Assert.Equal(5, _replica.Of(NodeA).Sequence);
        Assert.Empty(Match("old"));
        Assert.Equal([NodeA], Match("new/x"));
        Assert.Equal(BatchOutcome.Applied, _replica.Apply(NodeA, Batch(6, ("old", true))));

        Assert.False(_replica.ApplySnapshot(NodeA, new FilterSnapshot(4, [], [])));
        Assert.Equal(3, _replica.Of(NodeA).Filters.Length);
    }

    [Fact]
    public void EachMatchingNodeIsFoundOnceAndADeadNodeIsPurgedForGood()
    {
        _replica.Apply(NodeA, Batch(1, ("room/+/temp", true), ("room/#", true), ("#", true)));
        _replica.Apply(NodeB, Batch(1, ("room/1/temp", true)));

        Assert.Equal([NodeA, NodeB], Match("room/1/temp"));
        Assert.Equal([NodeA], Match("room"));
        Assert.Empty(Match("$SYS/broker")); // [MQTT-4.7.2-1]

        Assert.NotNull(_replica.Purge(NodeA));
        Assert.Equal([NodeB], Match("room/1/temp"));
        Assert.Empty(Match("room"));
        Assert.Equal(BatchOutcome.Dead, _replica.Apply(NodeA, Batch(2, ("room", true))));
        Assert.False(_replica.ApplySnapshot(NodeA, new FilterSnapshot(9, ["room"], [])));
        Assert.Empty(Match("room"));

        _replica.Apply(NodeB, Batch(2, ("room/1/temp", false)));
        Assert.True(_replica.IsEmpty);
    }

    [Fact]
    public void ABuriedNodesFiltersStillMatchRefusingUntilItIsPurged()
    {
        _replica.Apply(NodeA, Batch(1, ("room/#", true)));
        _replica.Apply(NodeB, Batch(1, ("room/1", true)));

        var buried = _replica.Bury(NodeA);
        Assert.NotNull(buried);
        Assert.Null(_replica.Bury(NodeA));
        Assert.Equal([NodeB], _replica.Known.Select(n => n.Id));
        Assert.Null(_replica.CountOf(NodeA));
        Assert.Equal(BatchOutcome.Dead, _replica.Apply(NodeA, Batch(2, ("more", true))));

        // Its sessions are not adopted yet: a message for them still finds it, and is held, then refused (not acknowledged, sent again).
        Assert.Equal([NodeA, NodeB], Match("room/1"));
        Assert.False(buried.Refusal!.IsCompleted);
        buried.RefuseHeld();
        var refusal = Assert.IsType<ForwardNotAcceptedException>(buried.Refusal.Exception?.InnerException);
        Assert.Contains("not adopted yet", refusal.Message, StringComparison.Ordinal);

        Assert.Same(buried, _replica.Purge(NodeA));
        Assert.Null(_replica.Purge(NodeA));
        Assert.Equal([NodeB], Match("room/1"));
        Assert.Empty(Match("room/2"));
    }
}
