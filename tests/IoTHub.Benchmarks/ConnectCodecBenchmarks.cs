using System.Buffers;
using BenchmarkDotNet.Attributes;
using IoTHub.Mqtt;

namespace IoTHub.Benchmarks;

/// <summary>
/// CONNECT with a will, user name and password (and properties in 5.0). Decoding builds a
/// <see cref="ConnectPacket"/> with its strings and arrays, so it allocates by design; it happens once
/// per connection. Decoding uses <see cref="MqttProtocolVersion.Unknown"/>, as a server does before CONNECT.
/// </summary>
[MemoryDiagnoser]
public class ConnectCodecBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(1024);
    private ConnectPacket _packet = new();
    private ReadOnlySequence<byte> _encoded;

    [Params(MqttProtocolVersion.V311, MqttProtocolVersion.V500)]
    public MqttProtocolVersion Version { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _packet = BenchmarkPackets.Connect(Version);
        _encoded = new ReadOnlySequence<byte>(BenchmarkPackets.Encode(_packet, Version));
        BenchmarkPackets.EnsureDecodes(_encoded, MqttProtocolVersion.Unknown, PacketType.Connect);
    }

    [Benchmark]
    public int DecodeConnect()
    {
        var buffer = _encoded;
        MqttDecoder.TryDecode(ref buffer, MqttProtocolVersion.Unknown, BenchmarkPackets.MaximumPacketSize, out var packet, out _);
        var connect = (ConnectPacket)packet.Control!;
        return connect.KeepAlive + connect.ClientId.Length + (connect.Will?.Payload.Length ?? 0) + (connect.Password?.Length ?? 0);
    }

    [Benchmark]
    public int EncodeConnect()
    {
        _output.ResetWrittenCount();
        return MqttEncoder.Write(_output, _packet, Version);
    }
}
