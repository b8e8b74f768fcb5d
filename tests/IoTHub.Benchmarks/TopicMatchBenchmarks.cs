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
    private readonly List<Subscription> _matches = [];
    private SubscriptionTree _tree = null!;
    private string[] _topics = [];
    private int _next;

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

        // 1 024 topics spread over the whole tree, matched in turn so caches do not flatter the large trees.
        _topics = new string[1_024];
        var random = new Random(42);
        for (var i = 0; i < _topics.Length; i++)
        {
            _topics[i] = Topic(random.Next(Subscriptions));
        }

        _tree.Match(_topics[0], _matches);
        if (_matches.Count != 1)
        {
            throw new InvalidOperationException($"expected 1 match, got {_matches.Count}");
        }

        _matches.Clear();
    }

    [Benchmark(Description = "Match one device topic")]
    public int Match()
    {
        var topic = _topics[_next++ & 1023];
        _tree.Match(topic, _matches);
        var count = _matches.Count;
        _matches.Clear();
        return count;
    }

    private static string Topic(int device) => "devices/" + device.ToString("D7", System.Globalization.CultureInfo.InvariantCulture) + "/cmd";
}
