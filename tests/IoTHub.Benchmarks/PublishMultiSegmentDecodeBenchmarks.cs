using System.Buffers;
using BenchmarkDotNet.Attributes;
using IoTHub.Mqtt;

namespace IoTHub.Benchmarks;

/// <summary>
/// Decoding a 1 KB PUBLISH that arrived in three reads: the first cut falls inside the topic name,
/// the second in the middle of the payload. The single-segment decode of the same bytes is the baseline.
/// </summary>
[MemoryDiagnoser]
public class PublishMultiSegmentDecodeBenchmarks
{
    private const int PayloadBytes = 1024;

    private ReadOnlySequence<byte> _singleSegment;
    private ReadOnlySequence<byte> _threeSegments;

    [Params(MqttProtocolVersion.V311, MqttProtocolVersion.V500)]
    public MqttProtocolVersion Version { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var bytes = BenchmarkPackets.Encode(BenchmarkPackets.Publish(PayloadBytes, Version), Version);

        // Fixed header (1 + 2 bytes for this size), topic length (2 bytes), then the topic: offset 12
        // splits "devices/sensor-0042/telemetry" after "devices".
        var insideTopic = 12;
        var insidePayload = bytes.Length - (PayloadBytes / 2);
        _singleSegment = new ReadOnlySequence<byte>(bytes);
        _threeSegments = SegmentedSequence.Split(bytes, insideTopic, insidePayload);
        BenchmarkPackets.EnsureDecodes(_singleSegment, Version, PacketType.Publish);
        BenchmarkPackets.EnsureDecodes(_threeSegments, Version, PacketType.Publish);
    }

    [Benchmark(Baseline = true)]
    public long DecodePublishFromOneSegment() => Decode(_singleSegment);

    [Benchmark]
    public long DecodePublishFromThreeSegments() => Decode(_threeSegments);

    private long Decode(ReadOnlySequence<byte> buffer)
    {
        MqttDecoder.TryDecode(ref buffer, Version, BenchmarkPackets.MaximumPacketSize, out var packet, out _);
        var publish = packet.Publish;
        return publish.Payload.Length + publish.Topic.Length + publish.PacketId;
    }
}
