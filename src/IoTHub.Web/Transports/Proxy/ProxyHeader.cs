using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;

namespace IoTHub.Web.Transports.Proxy;

/// <summary>What reading a PROXY protocol header from the bytes received so far gave.</summary>
internal enum ProxyHeaderStatus
{
    /// <summary>The bytes so far are the start of a header: wait for more.</summary>
    Incomplete,

    /// <summary>A whole header was read.</summary>
    Parsed,

    /// <summary>The bytes are not a PROXY protocol header.</summary>
    Invalid,
}

/// <summary>
/// The PROXY protocol header a proxy (HAProxy, a cloud load balancer) sends before the client's bytes: version 1 (one
/// line of text) or version 2 (binary). <see cref="Source"/> is the client's end as the proxy saw it; null when the
/// header names none (v1 UNKNOWN, v2 LOCAL such as a health check, or addresses that are not IP), and the connection
/// then keeps the proxy's own.
/// </summary>
internal readonly record struct ProxyHeader(IPEndPoint? Source, IPEndPoint? Destination)
{
    /// <summary>A v1 header is at most 107 bytes, "\r\n" included.</summary>
    public const int MaximumV1Length = 107;

    private const int V2FixedLength = 16;

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>
    /// Reads a header at the start of <paramref name="buffer"/>: <paramref name="end"/> is where the client's bytes begin when
    /// <see cref="ProxyHeaderStatus.Parsed"/>, <paramref name="problem"/> says what is wrong when <see cref="ProxyHeaderStatus.Invalid"/>.
    /// </summary>
    public static ProxyHeaderStatus TryRead(ReadOnlySequence<byte> buffer, out ProxyHeader header, out SequencePosition end, out string problem)
    {
        header = default;
        end = buffer.Start;
        problem = string.Empty;
        Span<byte> start = stackalloc byte[V2FixedLength];
        var available = (int)Math.Min(buffer.Length, start.Length);
        buffer.Slice(0, available).CopyTo(start);
        start = start[..available];
        if (V2Signature.StartsWith(start) || start.StartsWith(V2Signature))
        {
            return available < V2FixedLength ? ProxyHeaderStatus.Incomplete : ReadV2(buffer, start, ref header, ref end, ref problem);
        }

        if (V1Prefix.StartsWith(start[..Math.Min(available, V1Prefix.Length)]))
        {
            return available < V1Prefix.Length ? ProxyHeaderStatus.Incomplete : ReadV1(buffer, ref header, ref end, ref problem);
        }

        problem = "the connection does not start with a PROXY protocol header (v1 or v2)";
        return ProxyHeaderStatus.Invalid;
    }

    private static ProxyHeaderStatus ReadV1(ReadOnlySequence<byte> buffer, ref ProxyHeader header, ref SequencePosition end, ref string problem)
    {
        var window = buffer.Slice(0, Math.Min(buffer.Length, MaximumV1Length));
        if (window.PositionOf((byte)'\n') is not { } newLine)
        {
            if (window.Length < MaximumV1Length)
            {
                return ProxyHeaderStatus.Incomplete;
            }

            problem = $"the PROXY v1 header has no line end within {MaximumV1Length} bytes";
            return ProxyHeaderStatus.Invalid;
        }

        var line = Encoding.ASCII.GetString(buffer.Slice(0, newLine));
        end = buffer.GetPosition(1, newLine);
        if (!line.EndsWith('\r'))
        {
            problem = "the PROXY v1 header does not end with \\r\\n";
            return ProxyHeaderStatus.Invalid;
        }

        var fields = line[..^1].Split(' ');
        if (fields is [_, "UNKNOWN", ..])
        {
            return ProxyHeaderStatus.Parsed;
        }

        if (fields is not [_, "TCP4" or "TCP6", var source, var destination, var sourcePort, var destinationPort])
        {
            problem = $"the PROXY v1 header '{Printable(line)}' is not PROXY TCP4|TCP6 <source> <destination> <source port> <destination port>";
            return ProxyHeaderStatus.Invalid;
        }

        var family = fields[1] == "TCP4" ? System.Net.Sockets.AddressFamily.InterNetwork : System.Net.Sockets.AddressFamily.InterNetworkV6;
        if (!TryEndPoint(source, sourcePort, family, out var from) || !TryEndPoint(destination, destinationPort, family, out var to))
        {
            problem = $"the PROXY v1 header '{Printable(line)}' has an address or port that is not one of {fields[1]}";
            return ProxyHeaderStatus.Invalid;
        }

        header = new ProxyHeader(from, to);
        return ProxyHeaderStatus.Parsed;
    }

    private static ProxyHeaderStatus ReadV2(ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> start, ref ProxyHeader header, ref SequencePosition end, ref string problem)
    {
        var versionAndCommand = start[12];
        var family = start[13];
        var length = BinaryPrimitives.ReadUInt16BigEndian(start[14..]);
        if (versionAndCommand >> 4 != 2 || (versionAndCommand & 0xF) > 1)
        {
            problem = $"the PROXY v2 header has version {versionAndCommand >> 4} and command {versionAndCommand & 0xF} (only version 2, LOCAL and PROXY exist)";
            return ProxyHeaderStatus.Invalid;
        }

        if (buffer.Length < V2FixedLength + length)
        {
            return ProxyHeaderStatus.Incomplete;
        }

        end = buffer.GetPosition(V2FixedLength + length);
        var local = (versionAndCommand & 0xF) == 0;
        var transport = family & 0xF;
        var addresses = family >> 4;
        if (local || addresses is 0 or 3)
        {
            // LOCAL (the proxy's own connection, e.g. a health check), UNSPEC or Unix addresses: no client address to take.
            return ProxyHeaderStatus.Parsed;
        }

        var addressLength = addresses switch { 1 => 4, 2 => 16, _ => 0 };
        if (addressLength == 0 || transport != 1)
        {
            problem = $"the PROXY v2 header's family 0x{family:X2} is not TCP over IPv4, IPv6 or Unix";
            return ProxyHeaderStatus.Invalid;
        }

        if (length < (2 * addressLength) + 4)
        {
            problem = $"the PROXY v2 header's addresses need {(2 * addressLength) + 4} bytes, it has {length}";
            return ProxyHeaderStatus.Invalid;
        }

        Span<byte> block = stackalloc byte[(2 * addressLength) + 4];
        buffer.Slice(V2FixedLength, block.Length).CopyTo(block);
        header = new ProxyHeader(
            new IPEndPoint(new IPAddress(block[..addressLength]), BinaryPrimitives.ReadUInt16BigEndian(block[(2 * addressLength)..])),
            new IPEndPoint(new IPAddress(block[addressLength..(2 * addressLength)]), BinaryPrimitives.ReadUInt16BigEndian(block[((2 * addressLength) + 2)..])));
        return ProxyHeaderStatus.Parsed;
    }

    private static bool TryEndPoint(string address, string port, System.Net.Sockets.AddressFamily family, out IPEndPoint? endPoint)
    {
        endPoint = null;
        if (!IPAddress.TryParse(address, out var ip) || ip.AddressFamily != family || (family == System.Net.Sockets.AddressFamily.InterNetwork && address.Count(static c => c == '.') != 3)
            || port.Length is 0 or > 5 || (port.Length > 1 && port[0] == '0')
            || !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number > IPEndPoint.MaxPort)
        {
            return false;
        }

        endPoint = new IPEndPoint(ip, number);
        return true;
    }

    /// <summary>The line as it may go into a log: control characters shown as '?'.</summary>
    private static string Printable(string line) => string.Create(line.Length, line, static (chars, source) =>
    {
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = char.IsControl(source[i]) ? '?' : source[i];
        }
    });
}
