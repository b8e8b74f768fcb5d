using System.Buffers;
using BenchmarkDotNet.Attributes;
using IoTHub.Mqtt;

namespace IoTHub.Benchmarks;

/// <summary>
/// Decoding one QoS 1 PUBLISH from a single-segment buffer, the common case of a packet that arrived
/// in one read. Topic and payload stay slices of the buffer, so this should allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class PublishDecodeBenchmarks
{
    private ReadOnlySequence<byte> _packet;

    [Params(16, 1024, 65536)]
    public int PayloadBytes { get; set; }

    [Params(MqttProtocolVersion.V311, MqttProtocolVersion.V500)]
    public MqttProtocolVersion Version { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var bytes = BenchmarkPackets.Encode(BenchmarkPackets.Publish(PayloadBytes, Version), Version);
        _packet = new ReadOnlySequence<byte>(bytes);
        BenchmarkPackets.EnsureDecodes(_packet, Version, PacketType.Publish);
    }

    [Benchmark]
    public long DecodePublish()
    {
        var buffer = _packet;
        MqttDecoder.TryDecode(ref buffer, Version, BenchmarkPackets.MaximumPacketSize, out var packet, out _);
        var publish = packet.Publish;
        return publish.Payload.Length + publish.Topic.Length + publish.PacketId;
    }
}
