using IoTHub.Fuzz;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>
/// The fuzzing harnesses (tests/IoTHub.Fuzz) run as ordinary tests over their seed corpus and over every input a
/// campaign ever found failing (<c>failures/</c>): each must now pass the harness's checks (no exception from the
/// decoder, encodings that round-trip, a connection that ends by itself, no error logged, output that decodes). The seeds
/// are also checked to reach what they were written for, so a harness that stopped reading its input would fail here.
/// </summary>
public sealed class FuzzCorpusTests
{
    private static readonly string Root = FindFuzzFolder();

    public static TheoryData<string> DecoderInputs => Inputs("decoder");

    public static TheoryData<string> ConnectionInputs => Inputs("connection");

    [Theory]
    [MemberData(nameof(DecoderInputs))]
    public void A_decoder_input_of_the_corpus_or_of_a_past_failure_passes_the_harness(string input)
    {
        var left = DecoderHarness.Run(File.ReadAllBytes(Path.Combine(Root, input)));

        if (IsSeed(input))
        {
            Assert.Equal(0, left); // valid packets only: every byte decodes
        }
    }

    [Theory]
    [MemberData(nameof(ConnectionInputs))]
    public void A_connection_input_of_the_corpus_or_of_a_past_failure_passes_the_harness(string input)
    {
        var sent = ConnectionHarness.Run(File.ReadAllBytes(Path.Combine(Root, input)));

        if (IsSeed(input))
        {
            // The session subscribes, publishes at QoS 1 and 2 and comes back. (Deliveries to it may or may not go out before its
            // stream ends and the broker closes it.)
            Assert.Equal(2, sent.Count);
            Assert.Equal(PacketType.ConnAck, sent[0][0]);
            Assert.Contains(PacketType.SubAck, sent[0]);
            Assert.Contains(PacketType.PubAck, sent[0]);
            Assert.Contains(PacketType.PubComp, sent[0]);
            Assert.Equal(PacketType.ConnAck, sent[1][0]);
        }
    }

    private static bool IsSeed(string input) => input.StartsWith("corpus", StringComparison.Ordinal);

    /// <summary>Every file of <c>corpus/{harness}</c> and of <c>failures/{harness}</c> (made by the first failure kept), relative to the fuzzing folder.</summary>
    private static TheoryData<string> Inputs(string harness)
    {
        var inputs = new TheoryData<string>();
        foreach (var folder in new[] { Path.Combine(Root, "corpus", harness), Path.Combine(Root, "failures", harness) }.Where(Directory.Exists))
        {
            foreach (var file in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
            {
                inputs.Add(Path.GetRelativePath(Root, file));
            }
        }

        return inputs;
    }

    private static string FindFuzzFolder()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "IoTHub.Web.sln")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(directory?.FullName ?? throw new InvalidOperationException("IoTHub.Web.sln not found above " + AppContext.BaseDirectory), "tests", "IoTHub.Fuzz");
    }
}
