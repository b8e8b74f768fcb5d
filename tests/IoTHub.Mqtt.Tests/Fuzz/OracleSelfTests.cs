using System.Buffers;
using IoTHub.Mqtt.Tests.Support;
using Xunit.Abstractions;

namespace IoTHub.Mqtt.Tests.Fuzz;

/// <summary>
/// Proves each invariant of <see cref="CodecOracle"/> can fail: a deliberately broken decoder or encoder
/// is swapped in and the oracle must name the broken rule. Without these, a check that can never fire
/// would let the mutation test pass silently.
/// </summary>
public sealed class OracleSelfTests
{
    private readonly ITestOutputHelper _output;

    public OracleSelfTests(ITestOutputHelper output)
    {
        _output = output;
    }

    private static readonly byte[] Publish = Codec.Encode(
        new DecodedPacket(SamplePackets.Publish("a/b", "x", QualityOfService.AtLeastOnce, 1, retain: false, dup: false, props: null)),
        MqttProtocolVersion.V311);

    [Fact]
    public void Real_codec_passes_on_every_unmutated_sample_in_every_shape()
    {
        foreach (var input in FuzzCorpus.Build())
        {
            var single = CodecOracle.Real.Run(new ReadOnlySequence<byte>(input.Bytes), input.Version, int.MaxValue);
            Assert.All(single, step => Assert.Equal(DecodeStatus.Packet, step.Status));
            Assert.Equal(input.Bytes.Length, single.Sum(s => s.Consumed));

            var split = CodecOracle.Real.Run(Sequences.OneBytePerSegment(input.Bytes), input.Version, int.MaxValue);
            Assert.Equal(single, split);
        }
    }

    [Fact]
    public void A_decoder_that_throws_is_caught() =>
        AssertViolation("throws", Decoder((ref ReadOnlySequence<byte> _, out DecodedPacket p, out DecodeError e) => throw new InvalidOperationException("boom")));

    [Fact]
    public void An_undefined_status_is_caught() =>
        AssertViolation("status", Decoder((ref ReadOnlySequence<byte> _, out DecodedPacket p, out DecodeError e) =>
        {
            p = default;
            e = default;
            return (DecodeStatus)7;
        }));

    [Fact]
    public void Malformed_that_moves_the_buffer_is_caught() =>
        AssertViolation("buffer-moved", Decoder((ref ReadOnlySequence<byte> b, out DecodedPacket p, out DecodeError e) =>
        {
            b = b.Slice(1);
            p = default;
            e = new DecodeError(ReasonCode.MalformedPacket, "bad");
            return DecodeStatus.Malformed;
        }));

    [Fact]
    public void NeedMoreData_that_moves_the_buffer_is_caught() =>
        AssertViolation("buffer-moved", Decoder((ref ReadOnlySequence<byte> b, out DecodedPacket p, out DecodeError e) =>
        {
            b = b.Slice(b.Length);
            p = default;
            e = default;
            return DecodeStatus.NeedMoreData;
        }));

    [Fact]
    public void NeedMoreData_with_the_whole_frame_buffered_is_caught() =>
        AssertViolation("framing", Decoder((ref ReadOnlySequence<byte> _, out DecodedPacket p, out DecodeError e) =>
        {
            p = default;
            e = default;
            return DecodeStatus.NeedMoreData;
        }));

    [Fact]
    public void Malformed_without_a_message_is_caught() =>
        AssertViolation("error", Decoder((ref ReadOnlySequence<byte> _, out DecodedPacket p, out DecodeError e) =>
        {
            p = default;
            e = new DecodeError(ReasonCode.MalformedPacket, "");
            return DecodeStatus.Malformed;
        }));

    [Fact]
    public void Malformed_with_a_success_reason_code_is_caught() =>
        AssertViolation("error", Decoder((ref ReadOnlySequence<byte> _, out DecodedPacket p, out DecodeError e) =>
        {
            p = default;
            e = new DecodeError(ReasonCode.GrantedQoS2, "not an error");
            return DecodeStatus.Malformed;
        }));

    [Fact]
    public void Packet_without_progress_is_caught() =>
        AssertViolation("no-progress", (ref ReadOnlySequence<byte> b, MqttProtocolVersion v, int max, out DecodedPacket p, out DecodeError e) =>
        {
            var copy = b;
            var status = MqttDecoder.TryDecode(ref copy, v, max, out p, out e);
            return status;
        });

    [Fact]
    public void Packet_that_swallows_the_next_one_is_caught() =>
        AssertViolation(
            "framing",
            (ref ReadOnlySequence<byte> b, MqttProtocolVersion v, int max, out DecodedPacket p, out DecodeError e) =>
            {
                var status = MqttDecoder.TryDecode(ref b, v, max, out p, out e);
                b = b.Slice(b.Length);
                return status;
            },
            input: [.. Publish, .. Publish]);

    [Fact]
    public void An_encoder_that_throws_is_caught() =>
        AssertViolation("throws", MqttDecoder.TryDecode, (IBufferWriter<byte> _, in DecodedPacket _, MqttProtocolVersion _) => throw new ArgumentException("cannot"));

    [Fact]
    public void An_encoder_whose_output_does_not_decode_whole_is_caught() =>
        AssertViolation("re-decode", MqttDecoder.TryDecode, (IBufferWriter<byte> output, in DecodedPacket packet, MqttProtocolVersion version) =>
        {
            var written = MqttEncoder.Write(output, packet, version);
            output.Write<byte>([0xC0]);
            return written + 1;
        });

    [Fact]
    public void An_encoder_that_is_not_a_fixed_point_is_caught() =>
        AssertViolation("fixed-point", MqttDecoder.TryDecode, (IBufferWriter<byte> output, in DecodedPacket packet, MqttProtocolVersion version) =>
        {
            // Toggles RETAIN on every encoding: encode(decode(encode(decode(x)))) flips it back.
            var scratch = new ArrayBufferWriter<byte>();
            MqttEncoder.Write(scratch, packet, version);
            var bytes = scratch.WrittenSpan.ToArray();
            bytes[0] ^= 0x01;
            output.Write<byte>(bytes);
            return bytes.Length;
        });

    [Fact]
    public void An_encoder_that_miscounts_is_caught() =>
        AssertViolation("encode-count", MqttDecoder.TryDecode, (IBufferWriter<byte> output, in DecodedPacket packet, MqttProtocolVersion version) =>
            MqttEncoder.Write(output, packet, version) + 1);

    [Fact]
    public void The_loop_catches_a_decoder_that_depends_on_segmentation_and_reports_seed_iteration_version_and_hex()
    {
        var oracle = new CodecOracle(
            (ref ReadOnlySequence<byte> b, MqttProtocolVersion v, int max, out DecodedPacket p, out DecodeError e) =>
            {
                if (!b.IsSingleSegment)
                {
                    p = default;
                    e = new DecodeError(ReasonCode.MalformedPacket, "split");
                    return DecodeStatus.Malformed;
                }

                return MqttDecoder.TryDecode(ref b, v, max, out p, out e);
            },
            MqttEncoder.Write);
        var run = new FuzzRun(1234, FuzzCorpus.Build(), oracle);

        run.Loop(TimeSpan.FromMilliseconds(300), onlyIteration: null);

        Assert.True(run.Iterations > 10);
        var failure = run.Failures.Find(f => f.Key.StartsWith("segmentation|", StringComparison.Ordinal));
        Assert.NotNull(failure);
        _output.WriteLine(failure.Report);
        Assert.Contains("seed 1234, iteration ", failure.Report, StringComparison.Ordinal);
        Assert.Contains("decode version ", failure.Report, StringComparison.Ordinal);
        Assert.Matches("input \\([0-9]+ bytes\\): [0-9A-F]*", failure.Report);
    }

    [Fact]
    public void The_same_seed_and_iteration_give_the_same_input()
    {
        var corpus = FuzzCorpus.Build();
        for (var i = 0L; i < 200; i++)
        {
            var a = FuzzCase.Create(42, i, corpus);
            var b = FuzzCase.Create(42, i, corpus);
            Assert.Equal(a.Input, b.Input);
            Assert.Equal(a.Version, b.Version);
            Assert.Equal(a.MaximumPacketSize, b.MaximumPacketSize);
            Assert.Equal(a.Cuts, b.Cuts);
            Assert.Equal(a.Mutations, b.Mutations);
        }
    }

    private delegate DecodeStatus FakeDecode(ref ReadOnlySequence<byte> buffer, out DecodedPacket packet, out DecodeError error);

    private static DecodeFunction Decoder(FakeDecode fake) =>
        (ref ReadOnlySequence<byte> b, MqttProtocolVersion _, int _, out DecodedPacket p, out DecodeError e) => fake(ref b, out p, out e);

    private static void AssertViolation(string kind, DecodeFunction decode, EncodeFunction? encode = null, byte[]? input = null)
    {
        var oracle = new CodecOracle(decode, encode ?? MqttEncoder.Write);
        var violation = Assert.Throws<InvariantViolationException>(
            () => oracle.Run(new ReadOnlySequence<byte>(input ?? Publish), MqttProtocolVersion.V311, int.MaxValue));
        Assert.Equal(kind, violation.Kind);
    }
}
