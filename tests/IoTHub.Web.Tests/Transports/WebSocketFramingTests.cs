using System.Buffers;
using System.IO.Pipelines;
using IoTHub.Web.Transports.WebSockets;

namespace IoTHub.Web.Tests.Transports;

/// <summary>
/// The WebSocket framing (RFC 6455 §5) under the broker's input and output: client frames fed whole and split at every
/// byte decode to the same byte stream [MQTT-6.0.0-2]; control frames between fragments are answered; frames that break
/// RFC 6455 or MQTT's binary-only rule [MQTT-6.0.0-1] end the input with the close code to send; server frames use the
/// shortest length.
/// </summary>
public sealed class WebSocketFramingTests
{
    private const long MaximumMessageSize = 4096;

    private static readonly byte[] Packets = [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 7))];

    [Fact]
    public async Task Fragmented_masked_frames_decode_to_the_payload_whatever_the_split()
    {
        // One message in three frames (2-byte, 16-bit and tiny lengths), then a second message in one frame.
        byte[] stream = [.. ClientFrame(0x02, Packets[..100], final: false), .. ClientFrame(0x00, Packets[100..290], final: false),
            .. ClientFrame(0x00, Packets[290..], final: true), .. ClientFrame(0x02, Packets[..5], final: true)];
        for (var chunk = 1; chunk <= stream.Length; chunk = chunk < 16 ? chunk + 1 : chunk * 2)
        {
            var (decoded, refusal, sent) = await DecodeAsync(stream, chunk);
            Assert.Equal([.. Packets, .. Packets[..5]], decoded);
            Assert.Null(refusal);
            Assert.Empty(sent);
        }
    }

    [Fact]
    public async Task A_ping_between_fragments_is_answered_with_its_payload_and_the_message_goes_on()
    {
        byte[] stream = [.. ClientFrame(0x02, Packets[..10], final: false), .. ClientFrame(0x09, "are you there"u8.ToArray(), final: true),
            .. ClientFrame(0x0A, "unsolicited"u8.ToArray(), final: true), .. ClientFrame(0x00, Packets[10..20], final: true)];
        for (var chunk = 1; chunk <= stream.Length; chunk++)
        {
            var (decoded, refusal, sent) = await DecodeAsync(stream, chunk);
            Assert.Equal(Packets[..20], decoded);
            Assert.Null(refusal);
            Assert.Equal([0x8A, 13, .. "are you there"u8], sent);
        }
    }

    [Fact]
    public async Task A_close_is_answered_with_its_code_and_ends_the_input()
    {
        byte[] stream = [.. ClientFrame(0x02, Packets[..3], final: true), .. ClientFrame(0x08, [0x03, 0xE9, .. "going away"u8], final: true),
            .. ClientFrame(0x02, Packets[..3], final: true)];
        var (decoded, refusal, sent) = await DecodeAsync(stream, stream.Length);

        Assert.Equal(Packets[..3], decoded);
        Assert.Null(refusal);
        Assert.Equal([0x88, 2, 0x03, 0xE9], sent);
    }

    public static TheoryData<string, byte[], ushort, int> Refused => new()
    {
        { "unmasked", [0x82, 0x01, 0x10], 1002, 0 },
        { "reserved bit", Set(ClientFrame(0x02, [0x10], final: true), 0, 0xC2), 1002, 0 },
        { "reserved opcode", ClientFrame(0x03, [0x10], final: true), 1002, 0 },
        { "continuation first", ClientFrame(0x00, [0x10], final: true), 1002, 0 },
        { "new message inside one", [.. ClientFrame(0x02, [0x10], final: false), .. ClientFrame(0x02, [0x00], final: true)], 1002, 1 },
        { "fragmented ping", ClientFrame(0x09, [1], final: false), 1002, 0 },
        { "long ping", ClientFrame(0x09, new byte[126], final: true), 1002, 0 },
        { "text", ClientFrame(0x01, "{}"u8.ToArray(), final: true), 1003, 0 },
        { "message too big", [.. ClientFrame(0x02, new byte[4000], final: false), .. ClientFrame(0x00, new byte[97], final: true)], 1009, 4000 },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Frames_breaking_the_rules_end_the_input_with_their_close_code(string name, byte[] frames, ushort code, int passed)
    {
        byte[] stream = [.. ClientFrame(0x02, Packets[..4], final: true), .. frames, .. ClientFrame(0x02, Packets[..4], final: true)];
        var (decoded, refusal, sent) = await DecodeAsync(stream, stream.Length);

        Assert.True(refusal is not null, name);
        Assert.Equal(code, (ushort)refusal.Value.Code);
        Assert.Equal(Packets[..4], decoded[..4]);
        Assert.Equal(4 + passed, decoded.Length); // nothing from the refused frame on reaches the broker
        Assert.Empty(sent);
    }

    [Theory]
    [InlineData(0, new byte[] { 0x82, 0 })]
    [InlineData(125, new byte[] { 0x82, 125 })]
    [InlineData(126, new byte[] { 0x82, 126, 0, 126 })]
    [InlineData(65535, new byte[] { 0x82, 126, 0xFF, 0xFF })]
    [InlineData(65536, new byte[] { 0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0 })]
    public async Task Server_frames_are_final_unmasked_binary_with_the_shortest_length(int length, byte[] header)
    {
        using var connection = new MemoryStream();
        using var writer = new WebSocketMessageWriter(connection);
        var payload = new byte[length];
        Random.Shared.NextBytes(payload);

        // Written in two parts, to check that a buffer grown between them keeps the first.
        writer.Write(payload.AsSpan(0, length / 2));
        writer.Write(payload.AsSpan(length / 2));
        Assert.Equal(length, writer.UnflushedBytes);
        var flushed = await writer.FlushAsync();

        Assert.False(flushed.IsCompleted);
        Assert.Equal([.. header, .. payload], connection.ToArray());
    }

    [Fact]
    public async Task Nothing_is_sent_after_close()
    {
        using var connection = new MemoryStream();
        using var writer = new WebSocketMessageWriter(connection);
        await writer.SendControlAsync(WebSocketOpcode.Close, ServerFrames.ClosePayload(WebSocketCloseCode.ProtocolError, "bad frame"));
        writer.Write(Packets);

        Assert.True((await writer.FlushAsync()).IsCompleted);
        Assert.Equal([0x88, 11, 0x03, 0xEA, .. "bad frame"u8], connection.ToArray());
    }

    [Fact]
    public void The_handshake_answer_is_rfc_6455s_example()
    {
        // RFC 6455 §1.3.
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", ServerFrames.Accept("dGhlIHNhbXBsZSBub25jZQ=="));
    }

    /// <summary>Feeds <paramref name="stream"/> to a reader in chunks and reads until its input ends or all payload arrived.</summary>
    private static async Task<(byte[] Decoded, (WebSocketCloseCode Code, string Reason)? Refusal, byte[] Sent)> DecodeAsync(byte[] stream, int chunk)
    {
        var frames = new Pipe();
        using var connection = new MemoryStream();
        using var output = new WebSocketMessageWriter(connection);
        var input = new WebSocketMessageReader(frames.Reader, output, MaximumMessageSize);
        var decoded = new List<byte>();
        var feeding = FeedAsync(frames.Writer, stream, chunk);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await input.ReadAsync(timeout.Token);
            decoded.AddRange(result.Buffer.ToArray());
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await feeding;
        return ([.. decoded], input.Refusal, connection.ToArray());
    }

    private static async Task FeedAsync(PipeWriter writer, byte[] stream, int chunk)
    {
        for (var at = 0; at < stream.Length; at += chunk)
        {
            await writer.WriteAsync(stream.AsMemory(at, Math.Min(chunk, stream.Length - at)));
        }

        await writer.CompleteAsync();
    }

    /// <summary>A client frame (RFC 6455 §5.2), masked with a random key as clients must.</summary>
    private static byte[] ClientFrame(byte opcode, byte[] payload, bool final)
    {
        var header = new List<byte> { (byte)((final ? 0x80 : 0) | opcode) };
        if (payload.Length < 126)
        {
            header.Add((byte)(0x80 | payload.Length));
        }
        else
        {
            header.AddRange([0x80 | 126, (byte)(payload.Length >> 8), (byte)payload.Length]);
        }

        var key = new byte[4];
        Random.Shared.NextBytes(key);
        return [.. header, .. key, .. payload.Select((b, i) => (byte)(b ^ key[i % 4]))];
    }

    private static byte[] Set(byte[] frame, int index, byte value)
    {
        frame[index] = value;
        return frame;
    }
}
