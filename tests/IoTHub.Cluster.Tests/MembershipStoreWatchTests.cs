using System.Net;
using IoTHub.Cluster.Membership;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orleans;
using Orleans.Runtime;

namespace IoTHub.Cluster.Tests;

/// <summary>The split brain bound on a clock the test moves (the real store taken away: ClusterTests.ANodeThatLosesTheMembershipStoreStopsServingUntilItIsBack).</summary>
public sealed class MembershipStoreWatchTests
{
    // Probes every second, two missed: a table refresh every 3 s, the bound two of them, 6 s.
    private static readonly ClusterNodeSettings Settings = new("plant-7", "Host=db;Database=iothub", IPAddress.Loopback, 11111,
        TimeSpan.FromSeconds(1), 2, TimeSpan.FromSeconds(5), MigrateOnStart: false,
        ForwardAckTimeout: TimeSpan.FromSeconds(3));

    private readonly FakeTimeProvider _time = new();
    private readonly RecordingFence _fence = new();

    [Fact]
    public async Task The_node_is_fenced_once_after_the_bound_without_an_answer_and_lifted_by_the_next_one()
    {
        using var watch = new MembershipStoreWatch(Settings, _fence, _time, NullLogger<MembershipStoreWatch>.Instance);
        await StartAsync(watch);

        // Answers within the bound keep it serving, however long it runs.
        for (var i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            watch.Succeeded();
        }

        watch.Failed(new InvalidOperationException("28000: role \"node_1\" is not permitted to log in"));
        _time.Advance(TimeSpan.FromSeconds(6));
        Assert.Empty(_fence.Calls);

        _time.Advance(TimeSpan.FromSeconds(1));
        var fenced = Assert.Single(_fence.Calls);
        Assert.StartsWith("fence: the cluster's membership store has not answered for 7.0 s (bound 6 s)", fenced, StringComparison.Ordinal);
        Assert.EndsWith("role \"node_1\" is not permitted to log in", fenced, StringComparison.Ordinal);

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Single(_fence.Calls);

        watch.Succeeded();
        Assert.Equal("lift", _fence.Calls[^1]);
        watch.Succeeded();
        Assert.Equal(2, _fence.Calls.Count);
    }

    [Fact]
    public async Task Nothing_is_watched_before_the_node_is_active()
    {
        using var watch = new MembershipStoreWatch(Settings, _fence, _time, NullLogger<MembershipStoreWatch>.Instance);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty(_fence.Calls);

        // Active: the bound counts from now, not from the watch's creation.
        await StartAsync(watch);
        _time.Advance(TimeSpan.FromSeconds(6));
        Assert.Empty(_fence.Calls);
    }

    private static async Task StartAsync(MembershipStoreWatch watch)
    {
        var lifecycle = new OneObserverLifecycle();
        watch.Participate(lifecycle);
        await lifecycle.Observer!.OnStart(CancellationToken.None);
    }

    private sealed class RecordingFence : INodeFence
    {
        public List<string> Calls { get; } = [];

        public void Fence(string reason) => Calls.Add("fence: " + reason);

        public void Lift() => Calls.Add("lift");
    }

    private sealed class OneObserverLifecycle : ISiloLifecycle
    {
        public ILifecycleObserver? Observer { get; private set; }

        public int HighestCompletedStage => ServiceLifecycleStage.Active;

        public int LowestStoppedStage => ServiceLifecycleStage.Active;

        public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer)
        {
            Observer = observer;
            return new CancellationTokenSource();
        }
    }
}
