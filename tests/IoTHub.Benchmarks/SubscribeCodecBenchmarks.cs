using System.Buffers;
using BenchmarkDotNet.Attributes;
using IoTHub.Mqtt;

namespace IoTHub.Benchmarks;

/// <summary>
/// SUBSCRIBE with three topic filters (and a Subscription Identifier in 5.0). Decoding builds a
/// <see cref="SubscribePacket"/> with a list and a string per filter, so it allocates by design.
/// </summary>
[MemoryDiagnoser]
public class SubscribeCodecBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(1024);
    private SubscribePacket _packet = new();
    private ReadOnlySequence<byte> _encoded;

    [Params(MqttProtocolVersion.V311, MqttProtocolVersion.V500)]
    public MqttProtocolVersion Version { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _packet = BenchmarkPackets.Subscribe(Version);
        _encoded = new ReadOnlySequence<byte>(BenchmarkPackets.Encode(_packet, Version));
        BenchmarkPackets.EnsureDecodes(_encoded, Version, PacketType.Subscribe);
    }

    [Benchmark]
    public int DecodeSubscribe()
    {
        var buffer = _encoded;
        MqttDecoder.TryDecode(ref buffer, Version, BenchmarkPackets.MaximumPacketSize, out var packet, out _);
        var subscribe = (SubscribePacket)packet.Control!;
        return subscribe.PacketId + subscribe.Subscriptions.Count;
    }

    [Benchmark]
    public int EncodeSubscribe()
    {
        _output.ResetWrittenCount();
        return MqttEncoder.Write(_output, _packet, Version);
    }
}
