using System.Buffers;
using System.Globalization;

namespace IoTHub.Mqtt.Tests.Fuzz;

/// <summary>The shape of <see cref="MqttDecoder.TryDecode"/>, so a broken decoder can be swapped in to prove the oracle fails.</summary>
internal delegate DecodeStatus DecodeFunction(
    ref ReadOnlySequence<byte> buffer,
    MqttProtocolVersion version,
    int maximumPacketSize,
    out DecodedPacket packet,
    out DecodeError error);

/// <summary>The shape of <see cref="MqttEncoder.Write(IBufferWriter{byte}, in DecodedPacket, MqttProtocolVersion)"/>.</summary>
internal delegate int EncodeFunction(IBufferWriter<byte> output, in DecodedPacket packet, MqttProtocolVersion version);

/// <summary>An invariant of the codec did not hold. <see cref="Kind"/> names the invariant (used to group failures).</summary>
internal sealed class InvariantViolationException : Exception
{
    public InvariantViolationException(string kind, string detail, Exception? cause = null)
        : base($"[{kind}] {detail}", cause)
    {
        Kind = kind;
        Detail = detail;
    }

    public InvariantViolationException()
        : this("unknown", "unknown")
    {
    }

    public InvariantViolationException(string message)
        : this("unknown", message)
    {
    }

    public InvariantViolationException(string message, Exception innerException)
        : this("unknown", message, innerException)
    {
    }

    public string Kind { get; }

    public string Detail { get; }
}

/// <summary>One decode call's outcome, comparable between two shapes of the same bytes.</summary>
internal readonly record struct DecodeStep(DecodeStatus Status, long Consumed, PacketType Type, ReasonCode Reason, string? Message, string? EncodingHex)
{
    public override string ToString() => Status switch
    {
        DecodeStatus.Packet => $"Packet {Type} consumed={Consumed} encoded={EncodingHex}",
        DecodeStatus.Malformed => $"Malformed 0x{(byte)Reason:X2} {Reason} \"{Message}\"",
        _ => $"{Status}",
    };
}

/// <summary>
/// Feeds bytes to the decoder until it stops (NeedMoreData, Malformed or an empty buffer) and checks,
/// at every call, the decoder's contract. Each broken rule throws <see cref="InvariantViolationException"/>:
/// <list type="bullet">
/// <item>throws: TryDecode or MqttEncoder.Write threw anything.</item>
/// <item>status: the status is not one of NeedMoreData / Packet / Malformed.</item>
/// <item>buffer-moved: on NeedMoreData or Malformed the buffer is not exactly as it was.</item>
/// <item>error: on Malformed the message is empty or the reason code is below 0x80.</item>
/// <item>no-progress / advance: on Packet the buffer did not advance by a positive amount, or what is left is not the tail of the input.</item>
/// <item>framing: on Packet the bytes consumed differ from the frame the fixed header announces, exceed the
/// maximum packet size, or the packet type differs from the header's; NeedMoreData is returned although
/// the whole frame is there; a frame larger than the maximum is not refused with Packet Too Large; a
/// remaining length in more bytes than needed is not refused;
/// a non-CONNECT packet is decoded with version Unknown.</item>
/// <item>re-decode / fixed-point: encode(decode(x)) must decode as one whole packet again, and re-encode to the same bytes.</item>
/// </list>
/// </summary>
internal sealed class CodecOracle
{
    private readonly DecodeFunction _decode;
    private readonly EncodeFunction _encode;

    public CodecOracle(DecodeFunction decode, EncodeFunction encode)
    {
        _decode = decode;
        _encode = encode;
    }

    public static CodecOracle Real { get; } = new(MqttDecoder.TryDecode, MqttEncoder.Write);

    /// <summary>Decodes <paramref name="buffer"/> to the end, checking every invariant; returns what happened at each call.</summary>
    public List<DecodeStep> Run(ReadOnlySequence<byte> buffer, MqttProtocolVersion version, int maximumPacketSize)
    {
        var flat = buffer.ToArray();
        var steps = new List<DecodeStep>();
        var offset = 0L;
        while (buffer.Length > 0)
        {
            var step = DecodeOnce(ref buffer, flat, offset, version, maximumPacketSize, steps.Count);
            steps.Add(step);
            if (step.Status != DecodeStatus.Packet)
            {
                break;
            }

            offset += step.Consumed;
        }

        return steps;
    }

    private DecodeStep DecodeOnce(ref ReadOnlySequence<byte> buffer, byte[] flat, long offset, MqttProtocolVersion version, int maximumPacketSize, int index)
    {
        var at = string.Create(CultureInfo.InvariantCulture, $"call #{index} at input offset {offset}");
        var before = buffer;
        var frame = Frame.Parse(flat.AsSpan((int)offset));

        DecodeStatus status;
        DecodedPacket packet;
        DecodeError error;
        try
        {
            status = _decode(ref buffer, version, maximumPacketSize, out packet, out error);
        }
        catch (Exception ex)
        {
            throw new InvariantViolationException("throws", $"{at}: TryDecode threw {ex.GetType().FullName}: {ex.Message}", ex);
        }

        switch (status)
        {
            case DecodeStatus.NeedMoreData:
                ExpectUnchanged(before, buffer, status, at);
                if (frame.Complete && frame.Length <= before.Length)
                {
                    throw new InvariantViolationException(
                        "framing",
                        $"{at}: NeedMoreData although the whole {frame.Length}-byte frame is buffered ({before.Length} bytes)");
                }

                if (frame.Complete && frame.Length > maximumPacketSize)
                {
                    throw new InvariantViolationException(
                        "framing",
                        $"{at}: NeedMoreData for a {frame.Length}-byte frame over the maximum packet size {maximumPacketSize}; it must be refused from its fixed header");
                }

                if (frame.Overlong)
                {
                    throw new InvariantViolationException("framing", $"{at}: NeedMoreData although the remaining length already runs past four bytes");
                }

                return new DecodeStep(status, 0, default, default, null, null);

            case DecodeStatus.Malformed:
                ExpectUnchanged(before, buffer, status, at);
                if (string.IsNullOrEmpty(error.Message))
                {
                    throw new InvariantViolationException("error", $"{at}: Malformed with an empty message (reason 0x{(byte)error.ReasonCode:X2})");
                }

                if ((byte)error.ReasonCode < 0x80)
                {
                    throw new InvariantViolationException("error", $"{at}: Malformed with reason code 0x{(byte)error.ReasonCode:X2} ({error.ReasonCode}), not an error code (< 0x80): \"{error.Message}\"");
                }

                if (frame.Complete && !frame.NonMinimal && frame.Length > maximumPacketSize && error.ReasonCode != ReasonCode.PacketTooLarge)
                {
                    throw new InvariantViolationException(
                        "framing",
                        $"{at}: a {frame.Length}-byte frame over the maximum {maximumPacketSize} was refused with 0x{(byte)error.ReasonCode:X2} \"{error.Message}\" instead of Packet Too Large");
                }

                return new DecodeStep(status, 0, default, error.ReasonCode, error.Message, null);

            case DecodeStatus.Packet:
                var consumed = before.Length - buffer.Length;
                CheckAdvance(before, buffer, flat, offset, consumed, at);
                CheckFrame(frame, consumed, maximumPacketSize, packet, version, flat[offset], at);
                var encoded = CheckFixedPoint(packet, version, at);
                return new DecodeStep(status, consumed, packet.Type, default, null, Convert.ToHexString(encoded));

            default:
                throw new InvariantViolationException("status", $"{at}: TryDecode returned {(int)status}, not a DecodeStatus");
        }
    }

    private static void ExpectUnchanged(in ReadOnlySequence<byte> before, in ReadOnlySequence<byte> after, DecodeStatus status, string at)
    {
        if (before.Length != after.Length || !before.Start.Equals(after.Start) || !before.End.Equals(after.End))
        {
            throw new InvariantViolationException(
                "buffer-moved",
                $"{at}: {status} but the buffer changed from {before.Length} to {after.Length} bytes (or its positions moved)");
        }
    }

    private static void CheckAdvance(in ReadOnlySequence<byte> before, in ReadOnlySequence<byte> after, byte[] flat, long offset, long consumed, string at)
    {
        if (consumed <= 0)
        {
            throw new InvariantViolationException("no-progress", $"{at}: Packet but the buffer advanced by {consumed} bytes");
        }

        if (!after.End.Equals(before.End) || !after.ToArray().AsSpan().SequenceEqual(flat.AsSpan((int)(offset + consumed))))
        {
            throw new InvariantViolationException("advance", $"{at}: Packet but what is left of the buffer is not the input after the {consumed} consumed bytes");
        }
    }

    private static void CheckFrame(Frame frame, long consumed, int maximumPacketSize, in DecodedPacket packet, MqttProtocolVersion version, byte header, string at)
    {
        if (!frame.Complete || frame.Length != consumed)
        {
            throw new InvariantViolationException(
                "framing",
                $"{at}: Packet consumed {consumed} bytes but the fixed header announces a frame of {(frame.Complete ? frame.Length.ToString(CultureInfo.InvariantCulture) : "unknown")} bytes");
        }

        if (consumed > maximumPacketSize)
        {
            throw new InvariantViolationException("framing", $"{at}: Packet of {consumed} bytes accepted over the maximum packet size {maximumPacketSize}");
        }

        if (frame.NonMinimal)
        {
            throw new InvariantViolationException("framing", $"{at}: Packet accepted although its remaining length is not in its minimal form");
        }

        if ((int)packet.Type != header >> 4)
        {
            throw new InvariantViolationException("framing", $"{at}: decoded a {packet.Type} from a header of type {header >> 4}");
        }

        if (version == MqttProtocolVersion.Unknown && packet.Type != PacketType.Connect)
        {
            throw new InvariantViolationException("framing", $"{at}: decoded a {packet.Type} before CONNECT (version Unknown accepts only CONNECT)");
        }
    }

    private byte[] CheckFixedPoint(in DecodedPacket packet, MqttProtocolVersion version, string at)
    {
        var first = Encode(packet, version, at, "re-encoding the decoded packet");

        var again = new ReadOnlySequence<byte>(first);
        DecodeStatus status;
        DecodedPacket second;
        DecodeError error;
        try
        {
            status = _decode(ref again, version, int.MaxValue, out second, out error);
        }
        catch (Exception ex)
        {
            throw new InvariantViolationException(
                "throws",
                $"{at}: TryDecode threw {ex.GetType().FullName} on the re-encoded packet {Convert.ToHexString(first)}: {ex.Message}",
                ex);
        }

        if (status != DecodeStatus.Packet || again.Length != 0)
        {
            throw new InvariantViolationException(
                "re-decode",
                $"{at}: the re-encoded {packet.Type} {Convert.ToHexString(first)} decodes as {status} (0x{(byte)error.ReasonCode:X2} \"{error.Message}\") with {again.Length} bytes left, not as one whole packet");
        }

        var secondBytes = Encode(second, version, at, "re-encoding the re-decoded packet");
        if (!first.AsSpan().SequenceEqual(secondBytes))
        {
            throw new InvariantViolationException(
                "fixed-point",
                $"{at}: encode(decode(x)) is not a fixed point for {packet.Type}: encode(decode(x)) = {Convert.ToHexString(first)}, encode(decode(encode(decode(x)))) = {Convert.ToHexString(secondBytes)}");
        }

        return first;
    }

    private byte[] Encode(in DecodedPacket packet, MqttProtocolVersion version, string at, string what)
    {
        var output = new ArrayBufferWriter<byte>();
        int written;
        try
        {
            written = _encode(output, packet, version);
        }
        catch (Exception ex)
        {
            throw new InvariantViolationException("throws", $"{at}: {what} ({packet.Type}) threw {ex.GetType().FullName}: {ex.Message}", ex);
        }

        if (written != output.WrittenCount)
        {
            throw new InvariantViolationException("encode-count", $"{at}: {what} returned {written} but wrote {output.WrittenCount} bytes");
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>The frame the fixed header announces, parsed independently of the decoder.</summary>
    internal readonly record struct Frame(bool Complete, long Length, bool Overlong = false, bool NonMinimal = false)
    {
        public static Frame Parse(ReadOnlySpan<byte> data)
        {
            long value = 0;
            for (var i = 1; i <= 4; i++)
            {
                if (i >= data.Length)
                {
                    return default;
                }

                value |= (long)(data[i] & 0x7F) << (7 * (i - 1));
                if ((data[i] & 0x80) == 0)
                {
                    // A last length byte of 0 after the first means more bytes than needed [MQTT-1.5.5-1].
                    return new Frame(true, i + 1 + value, NonMinimal: i > 1 && data[i] == 0);
                }
            }

            // A fifth length byte: malformed, no frame.
            return new Frame(false, 0, Overlong: true);
        }
    }
}
