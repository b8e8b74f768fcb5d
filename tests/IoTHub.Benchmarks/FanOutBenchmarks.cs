using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using BenchmarkDotNet.Attributes;
using IoTHub.Broker;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Messages;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Benchmarks;

/// <summary>
/// One QoS 0 message (64 B payload) published to 1 000 sessions connected to <see cref="MqttBroker"/>
/// over in-memory pipes, measured until every subscriber's pipe holds its copy: routing, queueing,
/// the 1 000 write loops and their encoding. Allocation is per published message (for 1 000 deliveries).
/// </summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private const int Subscribers = 1_000;
    private const string Topic = "bench/fanout";
    private readonly List<Task> _tasks = [];
    private readonly List<Pipe> _pipes = [];
    private MqttBroker _broker = null!;
    private MqttMessage _message = null!;
    private CancellationTokenSource _stop = null!;
    private long _bytes;
    private long _expected;
    private int _packetSize;

    [GlobalSetup]
    public void Setup()
    {
        _broker = new MqttBroker(new BrokerOptions());
        _stop = new CancellationTokenSource();
        var payload = new byte[64];
        _message = MqttMessage.Create(Topic, payload, QualityOfService.AtMostOnce, retain: false);
        _packetSize = MqttEncoder.MeasurePublish(
            new PublishPacket(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(Topic)), new ReadOnlySequence<byte>(payload)), MqttProtocolVersion.V311);
        for (var i = 0; i < Subscribers; i++)
        {
            var toBroker = new Pipe();
            var fromBroker = new Pipe();
            _pipes.Add(toBroker);
            _tasks.Add(_broker.HandleConnectionAsync(new DuplexPipe(toBroker.Reader, fromBroker.Writer), new ConnectionInfo("pipe", TransportKind.Tcp, null, null)));
            var writer = toBroker.Writer;
            MqttEncoder.Write(writer, new ConnectPacket { ClientId = "sub-" + i, KeepAlive = 0 }, MqttProtocolVersion.V311);
            var subscribe = new SubscribePacket { PacketId = 1 };
            subscribe.Subscriptions.Add(new TopicSubscription(Topic, new SubscriptionOptions(QualityOfService.AtMostOnce)));
            MqttEncoder.Write(writer, subscribe, MqttProtocolVersion.V311);
            writer.FlushAsync().AsTask().GetAwaiter().GetResult();
            _tasks.Add(DrainAsync(fromBroker.Reader));
        }

        // CONNACK (4 bytes) and SUBACK (5 bytes) for each.
        _expected = Subscribers * 9L;
        WaitForAll();
    }

    [Benchmark(Description = "Publish QoS 0 to 1 000 sessions, until all delivered")]
    public void FanOut()
    {
        _expected += (long)Subscribers * _packetSize;
        _broker.Publish(_message);
        WaitForAll();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Cancel();
        foreach (var pipe in _pipes)
        {
            pipe.Writer.Complete();
        }

        Task.WhenAll(_tasks).Wait(TimeSpan.FromSeconds(10));
        _broker.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _stop.Dispose();
    }

    private void WaitForAll()
    {
        var spin = new SpinWait();
        var deadline = Environment.TickCount64 + 10_000;
        while (Volatile.Read(ref _bytes) < _expected)
        {
            spin.SpinOnce();
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"delivered {Volatile.Read(ref _bytes)} of {_expected} bytes");
            }
        }
    }

    private async Task DrainAsync(PipeReader reader)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var result = await reader.ReadAsync(_stop.Token).ConfigureAwait(false);
                Interlocked.Add(ref _bytes, result.Buffer.Length);
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        await reader.CompleteAsync().ConfigureAwait(false);
    }
}
