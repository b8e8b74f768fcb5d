using System.Buffers;
using System.Net;
using System.Text;
using IoTHub.Mqtt.Tests.Support;
using IoTHub.Web.Transports.Proxy;

namespace IoTHub.Web.Tests.Transports;

/// <summary>The PROXY protocol header codec: v1 and v2, IPv4 and IPv6, LOCAL and UNKNOWN, fed whole and split at every byte; malformed and truncated headers.</summary>
public sealed class ProxyHeaderTests
{
    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
    private static readonly byte[] Client = [0x10, 0x00];

    public static TheoryData<string, byte[], string?> Valid => new()
    {
        { "v1 TCP4", Ascii("PROXY TCP4 192.0.2.10 198.51.100.1 56324 1883\r\n"), "192.0.2.10:56324" },
        { "v1 TCP6", Ascii("PROXY TCP6 2001:db8::10 2001:db8::1 65535 8883\r\n"), "[2001:db8::10]:65535" },
        { "v1 UNKNOWN", Ascii("PROXY UNKNOWN\r\n"), null },
        { "v1 UNKNOWN with addresses", Ascii("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"), null },
        { "v2 TCP4", V2(0x21, 0x11, [192, 0, 2, 10, 198, 51, 100, 1, 0xDC, 0x04, 0x07, 0x5B]), "192.0.2.10:56324" },
        { "v2 TCP6 with a TLV", V2(0x21, 0x21, [.. IPAddress.Parse("2001:db8::10").GetAddressBytes(), .. IPAddress.Parse("2001:db8::1").GetAddressBytes(),
            0x00, 0x50, 0x22, 0xB3, 0x01, 0x00, 0x02, (byte)'h', (byte)'2']), "[2001:db8::10]:80" },
        { "v2 LOCAL", V2(0x20, 0x00, []), null },
        { "v2 UNSPEC", V2(0x21, 0x00, []), null },
        { "v2 UNIX", V2(0x21, 0x31, new byte[216]), null },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Valid_headers_give_the_clients_end_and_leave_its_bytes(string name, byte[] header, string? source)
    {
        byte[] input = [.. header, .. Client];
        for (var split = 0; split <= input.Length; split++)
        {
            var buffer = Sequences.Split(input, split);
            var status = ProxyHeader.TryRead(buffer, out var parsed, out var end, out var problem);

            Assert.True(status == ProxyHeaderStatus.Parsed, $"{name} split at {split}: {status} {problem}");
            Assert.Equal(source is null ? null : IPEndPoint.Parse(source), parsed.Source);
            Assert.Equal(Client, buffer.Slice(end).ToArray());
        }
    }

    /// <summary>Every proper prefix of a header asks for more bytes.</summary>
    [Theory]
    [MemberData(nameof(Valid))]
    public void Truncated_headers_ask_for_more(string name, byte[] header, string? source)
    {
        _ = source;
        for (var length = 0; length < header.Length; length++)
        {
            Assert.True(ProxyHeader.TryRead(new ReadOnlySequence<byte>(header, 0, length), out _, out _, out _) == ProxyHeaderStatus.Incomplete,
                $"{name} cut at {length}");
        }
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n", "does not start with a PROXY protocol header")]
    [InlineData("PROXY TCP4 192.0.2.10 198.51.100.1 56324\r\n", "is not PROXY TCP4|TCP6")]
    [InlineData("PROXY TCP5 192.0.2.10 198.51.100.1 1 2\r\n", "is not PROXY TCP4|TCP6")]
    [InlineData("PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n", "has an address or port that is not one of TCP4")]
    [InlineData("PROXY TCP6 192.0.2.10 2001:db8::1 1 2\r\n", "has an address or port that is not one of TCP6")]
    [InlineData("PROXY TCP4 192.0.2.10 198.51.100.1 65536 1883\r\n", "has an address or port")]
    [InlineData("PROXY TCP4 192.0.2.10 198.51.100.1 01 1883\r\n", "has an address or port")]
    [InlineData("PROXY TCP4 192.0.2 198.51.100.1 1 1883\r\n", "has an address or port")]
    [InlineData("PROXY TCP4 192.0.2.10  198.51.100.1 1 1883\r\n", "is not PROXY TCP4|TCP6")]
    [InlineData("PROXY TCP4 192.0.2.10 198.51.100.1 1 1883\n", "does not end with \\r\\n")]
    public void Malformed_v1_headers_are_refused_with_a_reason(string header, string reason)
    {
        var status = ProxyHeader.TryRead(new ReadOnlySequence<byte>(Ascii(header)), out _, out _, out var problem);

        Assert.Equal(ProxyHeaderStatus.Invalid, status);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_v1_line_longer_than_107_bytes_is_refused()
    {
        var status = ProxyHeader.TryRead(new ReadOnlySequence<byte>(Ascii("PROXY UNKNOWN " + new string('x', 100))), out _, out _, out var problem);

        Assert.Equal(ProxyHeaderStatus.Invalid, status);
        Assert.Contains("no line end within 107 bytes", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x11, 0x11, 12, "version 1")]
    [InlineData(0x22, 0x11, 12, "command 2")]
    [InlineData(0x21, 0x12, 12, "family 0x12")]
    [InlineData(0x21, 0x41, 12, "family 0x41")]
    [InlineData(0x21, 0x11, 8, "need 12 bytes, it has 8")]
    [InlineData(0x21, 0x21, 12, "need 36 bytes, it has 12")]
    public void Malformed_v2_headers_are_refused_with_a_reason(byte versionAndCommand, byte family, int length, string reason)
    {
        var status = ProxyHeader.TryRead(new ReadOnlySequence<byte>(V2(versionAndCommand, family, new byte[length])), out _, out _, out var problem);

        Assert.Equal(ProxyHeaderStatus.Invalid, status);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static byte[] V2(byte versionAndCommand, byte family, byte[] rest) =>
        [.. Signature, versionAndCommand, family, (byte)(rest.Length >> 8), (byte)rest.Length, .. rest];
}
