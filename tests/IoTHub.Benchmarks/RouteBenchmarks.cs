using BenchmarkDotNet.Attributes;
using IoTHub.Broker;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Watching;
using IoTHub.Mqtt;

namespace IoTHub.Benchmarks;

/// <summary>
/// <c>MessageRouter.Route</c> of one QoS 0 message to its one subscriber, whose session is offline (so the message is
/// counted and skipped, no queue grows): the match and the hand-over without any write loop, with no topic watch open
/// (the cost every publish pays), one watch of another filter, and one watch that matches. Without a watch it should
/// allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class RouteBenchmarks
{
    private const string Topic = "devices/0000001/cmd";
    private MqttBroker _broker = null!;
    private MqttMessage _message = null!;
    private TopicWatch? _watch;

    /// <summary>Which topic watch is open while routing.</summary>
    public enum OpenWatch
    {
        None,
        OtherFilter,
        Matching,
    }

    [Params(OpenWatch.None, OpenWatch.OtherFilter, OpenWatch.Matching)]
    public OpenWatch Watch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _broker = new MqttBroker(new BrokerOptions());
        _broker.Subscriptions.Add(new Subscription(new Session("offline"), Topic, new SubscriptionOptions(QualityOfService.AtMostOnce), 0));
        _message = MqttMessage.Create(Topic, new byte[64], QualityOfService.AtMostOnce, retain: false);
        _watch = Watch switch
        {
            OpenWatch.OtherFilter => _broker.Watch("alerts/#", static _ => { }),
            OpenWatch.Matching => _broker.Watch("devices/+/cmd", static _ => { }),
            _ => null,
        };
    }

    [Benchmark(Description = "Route QoS 0 to one offline subscriber")]
    public int Route() => _broker.Router.Route(_message);

    [GlobalCleanup]
    public void Cleanup()
    {
        _watch?.Dispose();
        _broker.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
