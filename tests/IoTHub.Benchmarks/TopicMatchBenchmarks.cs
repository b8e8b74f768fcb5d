using System.Globalization;
using BenchmarkDotNet.Attributes;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Sessions;
using IoTHub.Mqtt;

namespace IoTHub.Benchmarks;

/// <summary>
/// Matching one device topic in a tree of 1 000, 100 000 and 1 000 000 device subscriptions
/// (<c>devices/NNNNNNN/cmd</c>, spread over 1 000 sessions) plus a few wildcard filters that do not
/// match. The cost must not grow with the count (DESIGN.md §2.3), and matching should allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class TopicMatchBenchmarks
{
    private const int IdOffset = 8;
    private const string IdFormat = "D7";
    private readonly List<Subscription> _matches = [];
    private readonly char[] _topic = Topic(0).ToCharArray();
    private readonly Random _random = new(42);
    private SubscriptionTree _tree = null!;

    [Params(1_000, 100_000, 1_000_000)]
    public int Subscriptions { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var sessions = new Session[1_000];
        for (var i = 0; i < sessions.Length; i++)
        {
            sessions[i] = new Session("client-" + i);
        }

        _tree = new SubscriptionTree();
        var options = new SubscriptionOptions(QualityOfService.AtMostOnce);
        for (var i = 0; i < Subscriptions; i++)
        {
            _tree.Add(new Subscription(sessions[i % sessions.Length], Topic(i), options, 0));
        }

        _tree.Add(new Subscription(sessions[0], "devices/+/status", options, 0));
        _tree.Add(new Subscription(sessions[1], "alerts/#", options, 0));
        _tree.Add(new Subscription(sessions[2], "+/+/telemetry", options, 0));

        _tree.Match(Topic(Subscriptions - 1), _matches);
        if (_matches.Count != 1)
        {
            throw new InvalidOperationException($"expected 1 match, got {_matches.Count}");
        }

        _matches.Clear();
    }

    /// <summary>
    /// A device drawn at random from the whole tree, its id written into one reused buffer: the topic is
    /// in the cache, as a freshly decoded one is in the broker, and the tree's nodes are not, so large
    /// trees pay their cache misses here as they do under load.
    /// </summary>
    [Benchmark(Description = "Match one device topic")]
    public int Match()
    {
        var device = _random.Next(Subscriptions);
        device.TryFormat(_topic.AsSpan(IdOffset), out _, IdFormat, CultureInfo.InvariantCulture);
        _tree.Match(_topic, _matches);
        var count = _matches.Count;
        _matches.Clear();
        return count;
    }

    private static string Topic(int device) => "devices/" + device.ToString(IdFormat, CultureInfo.InvariantCulture) + "/cmd";
}
