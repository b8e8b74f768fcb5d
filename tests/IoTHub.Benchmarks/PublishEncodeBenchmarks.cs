using System.Buffers;
using BenchmarkDotNet.Attributes;
using IoTHub.Mqtt;

namespace IoTHub.Benchmarks;

/// <summary>
/// Encoding one QoS 1 PUBLISH into a reused output buffer, as a connection's write loop does.
/// The buffer is sized once in setup, so encoding should allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class PublishEncodeBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(128 * 1024);
    private PublishPacket _packet;

    [Params(16, 1024, 65536)]
    public int PayloadBytes { get; set; }

    [Params(MqttProtocolVersion.V311, MqttProtocolVersion.V500)]
    public MqttProtocolVersion Version { get; set; }

    [GlobalSetup]
    public void Setup() => _packet = BenchmarkPackets.Publish(PayloadBytes, Version);

    [Benchmark]
    public int EncodePublish()
    {
        _output.ResetWrittenCount();
        return MqttEncoder.WritePublish(_output, _packet, Version);
    }
}
