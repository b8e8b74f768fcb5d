using System.Buffers;
using IoTHub.Mqtt;

namespace IoTHub.Fuzz;

/// <summary>
/// The packet decoder fed one input. Its first byte picks the protocol version the connection is at (or none yet: then
/// only CONNECT is read, and its version holds for the rest, as on a connection); its second byte how long the buffer
/// segments the rest is cut into are (0: one segment), so packets straddle segments. Malformed bytes must come back as
/// <see cref="DecodeStatus.Malformed"/> with an error reason code, never as an exception; every packet decoded is encoded
/// again, and that encoding must decode, alone and whole, to a packet that encodes to the same bytes.
/// </summary>
public static class DecoderHarness
{
    /// <summary>The largest packet accepted: large enough for what a fuzzer makes, small enough to refuse a length of 256 MB.</summary>
    public const int MaximumPacketSize = 1 << 20;

    /// <summary>Runs one input; returns how many bytes were left undecoded (a packet cut short, or malformed from there on).</summary>
    public static long Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2)
        {
            return input.Length;
        }

        var version = (input[0] & 3) switch
        {
            0 => MqttProtocolVersion.Unknown,
            1 => MqttProtocolVersion.V310,
            2 => MqttProtocolVersion.V311,
            _ => MqttProtocolVersion.V500,
        };
        var buffer = Chunks.Of(input[2..], input[1] == 0 ? int.MaxValue : input[1]);
        while (true)
        {
            var status = MqttDecoder.TryDecode(ref buffer, version, MaximumPacketSize, out var packet, out var error);
            if (status == DecodeStatus.Malformed && (byte)error.ReasonCode < 0x80)
            {
                throw new FuzzFindingException($"malformed input answered with the success code {error.ReasonCode} ({error.Message})");
            }

            if (status != DecodeStatus.Packet)
            {
                return buffer.Length;
            }

            if (version == MqttProtocolVersion.Unknown)
            {
                version = ((ConnectPacket)packet.Control!).ProtocolVersion;
            }

            RoundTrip(packet, version);
        }
    }

    private static void RoundTrip(in DecodedPacket packet, MqttProtocolVersion version)
    {
        var encoded = new ArrayBufferWriter<byte>();
        MqttEncoder.Write(encoded, packet, version);
        var again = new ReadOnlySequence<byte>(encoded.WrittenMemory);
        var status = MqttDecoder.TryDecode(ref again, version, int.MaxValue, out var decoded, out var error);
        if (status != DecodeStatus.Packet || !again.IsEmpty)
        {
            throw new FuzzFindingException($"a decoded {packet.Type} encoded at {version} does not decode again: {status} {error.Message}, {again.Length} bytes left");
        }

        var reencoded = new ArrayBufferWriter<byte>();
        MqttEncoder.Write(reencoded, decoded, version);
        if (!encoded.WrittenSpan.SequenceEqual(reencoded.WrittenSpan))
        {
            throw new FuzzFindingException($"a decoded {packet.Type} at {version} encodes to {Convert.ToHexString(encoded.WrittenSpan)}, which decodes to one that encodes to {Convert.ToHexString(reencoded.WrittenSpan)}");
        }
    }
}
