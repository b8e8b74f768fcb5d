using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Cluster.Routing;
using IoTHub.Cluster.Sessions;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace IoTHub.Cluster.Tests;

/// <summary>
/// A moving session's routes (docs/clustering.md#a-moving-sessions-routes), on three silos of Orleans' InProcessTestCluster: a persistent
/// session claimed by another node leaves its route keys refusing on its old node, and their removal unsent, until the new node's
/// filters have them there, or the wait's limit.
/// </summary>
[Collection(PostgresServerGroup.Name)]
public sealed class MovingRoutesTests(PostgresServer server) : IAsyncLifetime
{
    private const string ClientId = "dev";
    private const string Filter = "moving/#";
    private const string Topic = "moving/1";

    private static readonly TimeSpan Converged = TimeSpan.FromSeconds(30);

    private InProcessTestCluster? _cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    /// <summary>Three nodes: the session's old node, its new node, and one that only watches.</summary>
    private async Task<(InProcessSiloHandle Old, InProcessSiloHandle New, InProcessSiloHandle Observer)> DeployAsync(TimeSpan moveWaitLimit)
    {
        (_cluster, _) = await TestClusters.DeployAsync(server, 3, silo => silo.Services.AddSingleton(new RoutingSettings
        {
            HeartbeatInterval = TimeSpan.FromMilliseconds(200),
            MoveWaitLimit = moveWaitLimit,
        }));
        return (_cluster.Silos[0], _cluster.Silos[1], _cluster.Silos[2]);
    }

    private static ClusterRouting Routing(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<ClusterRouting>();

    private static string Self(InProcessSiloHandle silo) => Routing(silo).Self;

    private static RecordingBroker Broker(InProcessSiloHandle silo) => (RecordingBroker)silo.ServiceProvider.GetRequiredService<ILocalBroker>();

    private static RecordingSessions Sessions(InProcessSiloHandle silo) => (RecordingSessions)silo.ServiceProvider.GetRequiredService<ILocalSessions>();

    private static List<string> Match(InProcessSiloHandle silo, string topic)
    {
        var nodes = new List<NodeRoutes>();
        Routing(silo).Replica.Match(topic, nodes, []);
        return [.. nodes.Select(n => n.Id)];
    }

    private static bool Knows(InProcessSiloHandle observer, InProcessSiloHandle node, string filter) =>
        Routing(observer).Replica.Of(Self(node)).Filters.Contains(filter);

    private static int Forward(InProcessSiloHandle silo, QualityOfService qos, out Task? accepted) =>
        Broker(silo).Routes!.Forward(MqttMessage.Create(Topic, "x"u8, qos, retain: false), default, out accepted);

    /// <summary>Routes a QoS 1 message from <paramref name="silo"/>: whether it was refused at once for a session moving away.</summary>
    private static bool Refuses(InProcessSiloHandle silo)
    {
        Forward(silo, QualityOfService.AtLeastOnce, out var accepted);
        return accepted is { IsFaulted: true } && accepted.Exception!.InnerException is ForwardNotAcceptedException refused
            && refused.Message.Contains("moving to node", StringComparison.Ordinal);
    }

    /// <summary>
    /// A persistent session of <see cref="ClientId"/> subscribed to <see cref="Filter"/> on <paramref name="old"/>, known to
    /// <paramref name="observer"/>, moves to <paramref name="next"/>: <paramref name="next"/> claims it without clean start, the arbiter
    /// has <paramref name="old"/> give it up, and the give-up takes its subscription out of <paramref name="old"/>'s tree.
    /// </summary>
    private static async Task MoveAsync(InProcessSiloHandle old, InProcessSiloHandle next, InProcessSiloHandle observer)
    {
        await Sessions(old).Owners!.ClaimAsync(ClientId, cleanStart: false, CancellationToken.None);
        Sessions(old).RouteKeys[ClientId] = [Filter];
        Broker(old).Routes!.LocalFilterChanged(Filter, true);
        await Poll.UntilAsync(() => Knows(observer, old, Filter), Converged);

        await Sessions(next).Owners!.ClaimAsync(ClientId, cleanStart: false, CancellationToken.None);
        Assert.Equal([(ClientId, true)], Sessions(old).GivenUp);
        Broker(old).Routes!.LocalFilterChanged(Filter, false);
    }

    /// <summary>A change of <paramref name="node"/>'s filters made now reaches <paramref name="observer"/>: every earlier one did too.</summary>
    private static async Task UntilEarlierChangesArriveAsync(InProcessSiloHandle node, InProcessSiloHandle observer, string marker)
    {
        Broker(node).Routes!.LocalFilterChanged(marker, true);
        await Poll.UntilAsync(() => Knows(observer, node, marker), Converged);
    }

    [Fact]
    public async Task AMovingSessionsFiltersRefuseOnItsOldNodeUntilTheNewNodesFiltersArriveThenRouteThere()
    {
        var (old, next, observer) = await DeployAsync(moveWaitLimit: TimeSpan.FromMinutes(5));
        await MoveAsync(old, next, observer);

        // The session's subscription is on no node now: a QoS 1 message published on its old node is refused, not acknowledged as
        // delivered to nobody [MQTT-4.3.2-4], and its publisher sends it again with DUP [MQTT-4.4.0-1]. QoS 0 goes nowhere, as before.
        Assert.True(Refuses(old));
        Assert.Equal(0, Forward(old, QualityOfService.AtMostOnce, out var qos0));
        Assert.Null(qos0);

        // The new node restores the session: once its filter is known on the old node, the message goes there.
        Broker(next).Routes!.LocalFilterChanged(Filter, true);
        await Poll.UntilAsync(() => !Refuses(old), Converged);
        Assert.Equal([Self(next)], Match(old, Topic));
        Assert.Equal(1, Forward(old, QualityOfService.AtLeastOnce, out var accepted));
        await accepted!;
        Assert.Contains(Broker(next).Delivered, m => m.Topic == Topic);
    }

    [Fact]
    public async Task TheOldNodesRemovalOfTheFilterGoesOutOnlyAfterTheNewNodesFilterArrivedThere()
    {
        var (old, next, observer) = await DeployAsync(moveWaitLimit: TimeSpan.FromMinutes(5));
        await MoveAsync(old, next, observer);

        // The removal is held: a later change of the old node's filters reaches the observer, and the filter is still the old node's.
        await UntilEarlierChangesArriveAsync(old, observer, "marker/#");
        Assert.True(Knows(observer, old, Filter));
        Assert.Contains(Filter, Routing(old).LocalSnapshot().Filters);

        // The new node's filter comes: at no time does a message for the session match no node on the observer.
        Broker(next).Routes!.LocalFilterChanged(Filter, true);
        var matchedNothing = false;
        await Poll.UntilAsync(() =>
        {
            var nodes = Match(observer, Topic);
            matchedNothing |= nodes.Count == 0;
            return !nodes.Contains(Self(old));
        }, Converged);
        Assert.False(matchedNothing);
        Assert.Equal([Self(next)], Match(observer, Topic));
        Assert.DoesNotContain(Filter, Routing(old).LocalSnapshot().Filters);
    }

    [Fact]
    public async Task AMoveWhoseNewNodeNeverHasTheFilterEndsAtTheLimit()
    {
        var (old, next, observer) = await DeployAsync(moveWaitLimit: TimeSpan.FromSeconds(2));
        await MoveAsync(old, next, observer);
        Assert.True(Refuses(old));

        await Poll.UntilAsync(() => !Refuses(old), Converged);
        await Poll.UntilAsync(() => !Knows(observer, old, Filter), Converged);
        Assert.Empty(Match(old, Topic));
        Assert.Empty(Match(observer, Topic));
    }

    [Fact]
    public async Task AFilterSubscribedAgainOnTheOldNodeKeepsItThereWhenTheMoveEnds()
    {
        var (old, next, observer) = await DeployAsync(moveWaitLimit: TimeSpan.FromSeconds(2));
        await MoveAsync(old, next, observer);

        // Another session of the old node subscribes to the filter before the move ends: its held removal is dropped.
        Broker(old).Routes!.LocalFilterChanged(Filter, true);
        await Poll.UntilAsync(() => !Refuses(old), Converged);
        await UntilEarlierChangesArriveAsync(old, observer, "marker/#");
        Assert.True(Knows(observer, old, Filter));
        Assert.Contains(Filter, Routing(old).LocalSnapshot().Filters);
    }

    [Fact]
    public async Task AMessageForwardedToTheOldNodeForTheMovingSessionIsNotAccepted()
    {
        var (old, next, observer) = await DeployAsync(moveWaitLimit: TimeSpan.FromMinutes(5));
        await MoveAsync(old, next, observer);

        // The observer still sends the session's messages to its old node, which delivers them to its own sessions but does not accept
        // the batch: the publisher on the observer is not acknowledged [MQTT-4.3.2-4] and sends it again with DUP [MQTT-4.4.0-1].
        Assert.Equal(1, Forward(observer, QualityOfService.AtLeastOnce, out var accepted));
        await Assert.ThrowsAsync<ForwardNotAcceptedException>(() => accepted!);
        Assert.Contains(Broker(old).Delivered, m => m.Topic == Topic);

        // Directly: a batch with a QoS 1 message for the moving session faults; one with a QoS 0 message, or with a QoS 1 message for
        // other topics, is accepted.
        var refused = await Assert.ThrowsAsync<ForwardNotAcceptedException>(() => Routing(old).Deliver([Forwarded("other/1", 1), Forwarded(Topic, 1)], receipt: null));
        Assert.Contains("moving to node " + Self(next), refused.Message, StringComparison.Ordinal);
        await Routing(old).Deliver([Forwarded(Topic, 0), Forwarded("other/1", 1)], receipt: null);

        // Once the new node's filter is known on the old node, such a batch is accepted there again.
        Broker(next).Routes!.LocalFilterChanged(Filter, true);
        await Poll.UntilAsync(() => !Refuses(old), Converged);
        await Routing(old).Deliver([Forwarded(Topic, 1)], receipt: null);
    }

    private static ForwardedMessage Forwarded(string topic, byte qos) =>
        new(topic, [], "x"u8.ToArray(), qos, Retain: false, PublisherId: null, ExpiresIn: null, ToSubscribers: true, SharedGroups: []);
}
