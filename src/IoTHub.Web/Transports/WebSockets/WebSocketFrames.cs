using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace IoTHub.Web.Transports.WebSockets;

/// <summary>The WebSocket opcodes (RFC 6455 §5.2) this server reads and writes.</summary>
internal enum WebSocketOpcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// <summary>The close codes (RFC 6455 §7.4.1) this server sends.</summary>
internal enum WebSocketCloseCode : ushort
{
    Normal = 1000,
    ProtocolError = 1002,
    UnsupportedData = 1003,
    MessageTooBig = 1009,
}

/// <summary>
/// The header of a frame a client sent (RFC 6455 §5.2): what it is, how long its payload is and the key it is masked
/// with. Clients always mask [RFC 6455 §5.1]; servers never do.
/// </summary>
internal readonly record struct ClientFrameHeader(bool Final, WebSocketOpcode Opcode, long Length, uint MaskKey)
{
    /// <summary>Control frames are Close, Ping and Pong (opcodes 0x8 and above).</summary>
    public bool IsControl => (byte)Opcode >= 0x8;

    /// <summary>
    /// Reads a header from the start of <paramref name="reader"/>: false, with nothing consumed, when its bytes have not all
    /// arrived; a header that breaks RFC 6455 yields <paramref name="violation"/> instead.
    /// </summary>
    public static bool TryRead(ref SequenceReader<byte> reader, out ClientFrameHeader header, out string? violation)
    {
        header = default;
        violation = null;
        var start = reader.Consumed;
        if (!TryReadParts(ref reader, out var first, out var masked, out var length, out var mask))
        {
            reader.Rewind(reader.Consumed - start);
            return false;
        }

        var opcode = (WebSocketOpcode)(first & 0x0F);
        header = new ClientFrameHeader((first & 0x80) != 0, opcode, length, mask);
        violation = (first & 0x70) != 0 ? "reserved bits set without an extension"
            : !masked ? "an unmasked frame from a client"
            : length < 0 ? "a payload length with its most significant bit set"
            : !Enum.IsDefined(opcode) ? $"the reserved opcode 0x{(byte)opcode:X}"
            : header.IsControl && (!header.Final || length > 125) ? "a fragmented or oversized control frame"
            : null;
        return true;
    }

    private static bool TryReadParts(ref SequenceReader<byte> reader, out byte first, out bool masked, out long length, out uint mask)
    {
        masked = false;
        length = 0;
        mask = 0;
        if (!reader.TryRead(out first) || !reader.TryRead(out var second))
        {
            return false;
        }

        masked = (second & 0x80) != 0;
        length = second & 0x7F;
        if (length == 126)
        {
            if (!reader.TryReadBigEndian(out short length16))
            {
                return false;
            }

            length = (ushort)length16;
        }
        else if (length == 127 && !reader.TryReadBigEndian(out length))
        {
            return false;
        }

        if (masked)
        {
            if (!reader.TryReadBigEndian(out int key))
            {
                return false;
            }

            mask = (uint)key;
        }

        return true;
    }
}

/// <summary>Frames as this server writes them: unmasked, final, with the shortest length the payload allows.</summary>
internal static class ServerFrames
{
    /// <summary>The longest header a server frame has: two bytes and a 64-bit length.</summary>
    public const int MaximumHeaderLength = 10;

    private static readonly byte[] AcceptSuffix = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.ToArray();

    /// <summary>
    /// Writes a header for a payload of <paramref name="length"/> bytes so that it ends exactly at
    /// <paramref name="end"/> of <paramref name="buffer"/>, and answers where it starts.
    /// </summary>
    public static int WriteHeaderBefore(Span<byte> buffer, int end, WebSocketOpcode opcode, long length)
    {
        var start = end - (length < 126 ? 2 : length <= ushort.MaxValue ? 4 : 10);
        var header = buffer[start..end];
        header[0] = (byte)(0x80 | (byte)opcode);
        if (length < 126)
        {
            header[1] = (byte)length;
        }
        else if (length <= ushort.MaxValue)
        {
            header[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)length);
        }
        else
        {
            header[1] = 127;
            BinaryPrimitives.WriteInt64BigEndian(header[2..], length);
        }

        return start;
    }

    /// <summary>A close frame's payload: the code, then a reason of at most 123 UTF-8 bytes (RFC 6455 §5.5.1).</summary>
    public static byte[] ClosePayload(WebSocketCloseCode code, string? reason)
    {
        var text = reason is null ? [] : Encoding.UTF8.GetBytes(reason);
        var payload = new byte[2 + Math.Min(text.Length, 123)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        text.AsSpan(0, payload.Length - 2).CopyTo(payload.AsSpan(2));
        return payload;
    }

    /// <summary>Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2).</summary>
    [SuppressMessage("Security", "CA5350:Do Not Use Weak Cryptographic Algorithms", Justification = "RFC 6455 §4.2.2 names SHA-1 for the handshake; it proves nothing secret.")]
    public static string Accept(string key)
    {
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData([.. Encoding.ASCII.GetBytes(key), .. AcceptSuffix], hash);
        return Convert.ToBase64String(hash);
    }
}
