using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using IoTHub.Mqtt.Tests.Support;
using Xunit.Abstractions;

namespace IoTHub.Mqtt.Tests.Fuzz;

/// <summary>
/// Bounded-time mutation test of the decoder (DESIGN.md §7): every sample packet, encoded, is mutated and
/// decoded with the <see cref="CodecOracle"/> checking the decoder's contract at every call.
/// <para>
/// IOTHUB_FUZZ_SECONDS sets the duration (default 30), IOTHUB_FUZZ_SEED the seed (default: a fresh one,
/// printed first). Iteration <c>i</c> depends only on the seed and <c>i</c>, so IOTHUB_FUZZ_ITERATION
/// replays a single iteration of a reported failure exactly.
/// </para>
/// </summary>
public sealed class MutationTests
{
    private const string SeedVariable = "IOTHUB_FUZZ_SEED";
    private const string SecondsVariable = "IOTHUB_FUZZ_SECONDS";
    private const string IterationVariable = "IOTHUB_FUZZ_ITERATION";
    private const double DefaultSeconds = 30;
    private const long MinimumIterations = 1000;

    private readonly ITestOutputHelper _output;

    public MutationTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public void Mutated_packets_never_break_the_decoder_contract()
    {
        var seed = ReadSeed();
        var seconds = ReadSeconds();
        var onlyIteration = ReadIteration();
        var replay = string.Create(
            CultureInfo.InvariantCulture,
            $"{SeedVariable}={seed} dotnet test tests/IoTHub.Mqtt.Tests -c Release --filter \"FullyQualifiedName~Fuzz.MutationTests\"");
        Say($"[fuzz] seed {seed}, {seconds} s{(onlyIteration is { } only ? $", iteration {only} only" : "")}. Replay: {replay}");

        var run = new FuzzRun(seed, FuzzCorpus.Build(), CodecOracle.Real);
        Say($"[fuzz] corpus: {run.Corpus.Count} inputs ({SamplePackets.All().Count()} sample packets and {run.Corpus.Count - SamplePackets.All().Count()} concatenations)");

        // The loop runs on its own thread so a decoder that hangs fails the test (with the input) instead of stalling CI.
        var worker = new Thread(() => run.Loop(TimeSpan.FromSeconds(seconds), onlyIteration)) { IsBackground = true, Name = "mqtt-fuzz" };
        worker.Start();
        if (!worker.Join(TimeSpan.FromSeconds(seconds + 20)))
        {
            var stuck = run.Current;
            Assert.Fail($"the decoder hung: no iteration finished for 20 s past the time budget.\n{stuck?.Describe(seed, replay) ?? "(no input)"}");
        }

        var elapsed = run.Elapsed.TotalSeconds;
        Say(string.Create(
            CultureInfo.InvariantCulture,
            $"[fuzz] seed {seed}: {run.Iterations} iterations in {elapsed:F1} s ({run.Iterations / Math.Max(elapsed, 1e-9):F0}/s), {run.DecodeCalls} decode calls"));
        Say($"[fuzz] {run.Stats()}");

        if (run.Failures.Count > 0)
        {
            var report = new StringBuilder();
            report.Append(CultureInfo.InvariantCulture, $"{run.Failures.Count} distinct invariant violation(s), {run.FailureOccurrences} occurrence(s), seed {seed}. Replay: {replay}\n");
            foreach (var failure in run.Failures)
            {
                report.Append("\n---\n").Append(failure.Report);
                if (failure.Count > 1)
                {
                    report.Append(CultureInfo.InvariantCulture, $"\n(seen {failure.Count} times)");
                }
            }

            Say(report.ToString());
            Assert.Fail(report.ToString());
        }

        if (onlyIteration is null)
        {
            Assert.True(
                run.Iterations >= MinimumIterations,
                $"only {run.Iterations} iterations ran in {seconds} s (seed {seed}); expected at least {MinimumIterations}. Is the loop broken?");
        }
        else
        {
            Assert.Equal(1, run.Iterations);
        }
    }

    private void Say(string line)
    {
        _output.WriteLine(line);
        Console.WriteLine(line);
    }

    private static int ReadSeed()
    {
        var text = Environment.GetEnvironmentVariable(SeedVariable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return Random.Shared.Next();
        }

        Assert.True(int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed), $"{SeedVariable}={text} is not an integer");
        return seed;
    }

    private static double ReadSeconds()
    {
        var text = Environment.GetEnvironmentVariable(SecondsVariable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return DefaultSeconds;
        }

        Assert.True(
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0,
            $"{SecondsVariable}={text} is not a positive number of seconds");
        return seconds;
    }

    private static long? ReadIteration()
    {
        var text = Environment.GetEnvironmentVariable(IterationVariable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        Assert.True(long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var iteration) && iteration >= 0, $"{IterationVariable}={text} is not an iteration number");
        return iteration;
    }
}

/// <summary>One encoded input the mutations start from.</summary>
internal sealed record FuzzInput(string Name, MqttProtocolVersion Version, byte[] Bytes);

/// <summary>Every sample packet encoded with its version, plus a few two-packet concatenations per version.</summary>
internal static class FuzzCorpus
{
    public static List<FuzzInput> Build()
    {
        var corpus = SamplePackets.All()
            .Select(s => new FuzzInput($"{s.Name} ({s.Version})", s.Version, Codec.Encode(s.Packet, s.Version)))
            .ToList();

        foreach (var version in SamplePackets.Versions)
        {
            var ofVersion = corpus.Where(c => c.Version == version).ToList();
            for (var i = 0; i < 5; i++)
            {
                var first = ofVersion[(i * 5) % ofVersion.Count];
                var second = ofVersion[((i * 7) + 3) % ofVersion.Count];
                corpus.Add(new FuzzInput($"{first.Name} + {second.Name}", version, [.. first.Bytes, .. second.Bytes]));
            }
        }

        return corpus;
    }
}

/// <summary>One iteration's input and how it is fed to the decoder.</summary>
internal sealed class FuzzCase
{
    private static readonly MqttProtocolVersion[] DecodeVersions =
        [MqttProtocolVersion.V310, MqttProtocolVersion.V311, MqttProtocolVersion.V500, MqttProtocolVersion.Unknown];

    private FuzzCase(long iteration, FuzzInput source, string mutations, byte[] input, MqttProtocolVersion version, int maximumPacketSize, int[]? cuts)
    {
        Iteration = iteration;
        Source = source;
        Mutations = mutations;
        Input = input;
        Version = version;
        MaximumPacketSize = maximumPacketSize;
        Cuts = cuts;
    }

    public long Iteration { get; }

    public FuzzInput Source { get; }

    public string Mutations { get; }

    public byte[] Input { get; }

    public MqttProtocolVersion Version { get; }

    public int MaximumPacketSize { get; }

    /// <summary>Where the multi-segment form is cut; null when only the single-segment form is decoded.</summary>
    public int[]? Cuts { get; }

    public static FuzzCase Create(int seed, long iteration, List<FuzzInput> corpus)
    {
        var random = new Random(IterationSeed(seed, iteration));
        var source = corpus[random.Next(corpus.Count)];
        var log = new StringBuilder();
        var start = source.Bytes;
        if (random.Next(20) == 0)
        {
            // Splice: the head of this input and the tail of another of the same version.
            var other = corpus.Where(c => c.Version == source.Version).ElementAt(random.Next(corpus.Count(c => c.Version == source.Version)));
            var head = random.Next(start.Length + 1);
            var tail = random.Next(other.Bytes.Length + 1);
            start = [.. start.AsSpan(0, head), .. other.Bytes.AsSpan(tail)];
            log.Append(CultureInfo.InvariantCulture, $"splice({head} | {other.Name}@{tail})");
        }

        var input = Mutator.Mutate(start, random, log);
        var version = random.Next(10) < 7 ? source.Version : DecodeVersions[random.Next(DecodeVersions.Length)];
        var maximum = random.Next(7) == 0 ? random.Next(0, Math.Max(input.Length, 2)) : int.MaxValue;

        int[]? cuts = null;
        if (random.Next(10) < 6)
        {
            if (random.Next(7) == 0)
            {
                cuts = Enumerable.Range(1, Math.Max(0, input.Length - 1)).ToArray();
            }
            else
            {
                // Cuts may repeat or sit at either end: empty segments are legal in a ReadOnlySequence.
                cuts = new int[1 + random.Next(6)];
                for (var i = 0; i < cuts.Length; i++)
                {
                    cuts[i] = random.Next(input.Length + 1);
                }

                Array.Sort(cuts);
            }
        }

        return new FuzzCase(iteration, source, log.ToString(), input, version, maximum, cuts);
    }

    /// <summary>SplitMix64 of (seed, iteration): a deterministic, well-spread seed per iteration.</summary>
    public static int IterationSeed(int seed, long iteration)
    {
        var z = ((ulong)(uint)seed * 0x9E3779B97F4A7C15UL) + (ulong)iteration + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z ^ (z >> 32));
    }

    public string Describe(int seed, string replay)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"seed {seed}, iteration {Iteration} (replay just this one: {MutationTestsReplay.Iteration(seed, Iteration)}; whole run: {replay})\n");
        text.Append(CultureInfo.InvariantCulture, $"decode version {Version} ({(byte)Version}), sample version {Source.Version}, maximumPacketSize {(MaximumPacketSize == int.MaxValue ? "unlimited" : MaximumPacketSize.ToString(CultureInfo.InvariantCulture))}\n");
        text.Append(CultureInfo.InvariantCulture, $"source: {Source.Name}; mutations: {Mutations}\n");
        text.Append(CultureInfo.InvariantCulture, $"shape: {(Cuts is null ? "single segment" : $"single segment, then split at [{string.Join(",", Cuts)}]")}\n");
        text.Append(CultureInfo.InvariantCulture, $"input ({Input.Length} bytes): {Convert.ToHexString(Input)}");
        return text.ToString();
    }
}

internal static class MutationTestsReplay
{
    public static string Iteration(int seed, long iteration) => string.Create(
        CultureInfo.InvariantCulture,
        $"IOTHUB_FUZZ_SEED={seed} IOTHUB_FUZZ_ITERATION={iteration} dotnet test tests/IoTHub.Mqtt.Tests -c Release --filter \"FullyQualifiedName~Fuzz.MutationTests\"");
}

/// <summary>A distinct invariant violation (grouped by invariant and exception site) and how often it was seen.</summary>
internal sealed class FuzzFailure(string key, string report)
{
    public string Key { get; } = key;

    public string Report { get; } = report;

    public int Count { get; set; } = 1;
}

/// <summary>The fuzz loop and its counters. Runs on one thread; <see cref="Current"/> is read by the watchdog.</summary>
internal sealed class FuzzRun
{
    private const int MaxDistinctFailures = 25;

    private readonly int _seed;
    private readonly CodecOracle _oracle;
    private readonly string _replay;
    private readonly Dictionary<string, long> _outcomes = [];
    private readonly Dictionary<string, long> _errors = [];
    private readonly Dictionary<PacketType, long> _packets = [];
    private FuzzCase? _current;

    public FuzzRun(int seed, List<FuzzInput> corpus, CodecOracle oracle)
    {
        _seed = seed;
        Corpus = corpus;
        _oracle = oracle;
        _replay = string.Create(
            CultureInfo.InvariantCulture,
            $"IOTHUB_FUZZ_SEED={seed} dotnet test tests/IoTHub.Mqtt.Tests -c Release --filter \"FullyQualifiedName~Fuzz.MutationTests\"");
    }

    public List<FuzzInput> Corpus { get; }

    public long Iterations { get; private set; }

    public long DecodeCalls { get; private set; }

    public TimeSpan Elapsed { get; private set; }

    public List<FuzzFailure> Failures { get; } = [];

    public long FailureOccurrences { get; private set; }

    public FuzzCase? Current => Volatile.Read(ref _current);

    public void Loop(TimeSpan budget, long? onlyIteration)
    {
        var clock = Stopwatch.StartNew();
        if (onlyIteration is { } only)
        {
            RunOne(only);
            Iterations = 1;
        }
        else
        {
            for (var i = 0L; clock.Elapsed < budget; i++)
            {
                RunOne(i);
                Iterations = i + 1;
            }
        }

        Elapsed = clock.Elapsed;
    }

    private void RunOne(long iteration)
    {
        FuzzCase? fuzzCase = null;
        try
        {
            fuzzCase = FuzzCase.Create(_seed, iteration, Corpus);
            Volatile.Write(ref _current, fuzzCase);

            var single = _oracle.Run(new ReadOnlySequence<byte>(fuzzCase.Input), fuzzCase.Version, fuzzCase.MaximumPacketSize);
            Count(single);
            if (fuzzCase.Cuts is { } cuts)
            {
                var split = _oracle.Run(Sequences.Split(fuzzCase.Input, cuts), fuzzCase.Version, fuzzCase.MaximumPacketSize);
                DecodeCalls += split.Count;
                if (!single.SequenceEqual(split))
                {
                    throw new InvariantViolationException(
                        "segmentation",
                        "the same bytes decode differently as one segment and split:\n  single: "
                            + string.Join("\n          ", single)
                            + "\n  split:  "
                            + string.Join("\n          ", split));
                }
            }
        }
        catch (InvariantViolationException violation)
        {
            Record(violation.Kind, violation.Detail, violation.InnerException, fuzzCase);
        }
        catch (Exception ex)
        {
            // A bug in the harness itself (mutator, corpus): still reported with the input.
            Record("harness", ex.Message, ex, fuzzCase);
        }
    }

    private void Count(List<DecodeStep> steps)
    {
        DecodeCalls += steps.Count;
        if (steps.Count == 0)
        {
            Increment(_outcomes, "empty input");
            return;
        }

        foreach (var step in steps)
        {
            if (step.Status == DecodeStatus.Packet)
            {
                _packets[step.Type] = _packets.GetValueOrDefault(step.Type) + 1;
            }
            else if (step.Status == DecodeStatus.Malformed)
            {
                Increment(_errors, string.Create(CultureInfo.InvariantCulture, $"0x{(byte)step.Reason:X2} {step.Message}"));
            }
        }

        var last = steps[^1].Status;
        Increment(_outcomes, last == DecodeStatus.Packet ? "all consumed" : $"ends in {last}");
    }

    private static void Increment(Dictionary<string, long> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;

    private void Record(string kind, string detail, Exception? cause, FuzzCase? fuzzCase)
    {
        FailureOccurrences++;
        var top = cause is null ? "" : $"{cause.GetType().FullName} {StackTop(cause)}";
        var key = $"{kind}|{top}|{(cause is null ? Signature(detail) : "")}";
        var known = Failures.Find(f => f.Key == key);
        if (known is not null)
        {
            known.Count++;
            return;
        }

        if (Failures.Count >= MaxDistinctFailures)
        {
            return;
        }

        var report = new StringBuilder();
        report.Append(CultureInfo.InvariantCulture, $"invariant '{kind}' violated: {detail}\n");
        report.Append(fuzzCase?.Describe(_seed, _replay) ?? "(failed while building the input)");
        if (cause is not null)
        {
            report.Append("\nexception: ").Append(cause);
        }

        Failures.Add(new FuzzFailure(key, report.ToString()));
    }

    /// <summary>The detail without its numbers and hex, cut short: violations that differ only in the input group together.</summary>
    private static string Signature(string detail)
    {
        var shape = Regex.Replace(detail, "[0-9A-F]{2,}|[0-9]+", "#");
        return shape.Length <= 90 ? shape : shape[..90];
    }

    private static string StackTop(Exception ex)
    {
        var trace = ex.StackTrace ?? "";
        var line = trace.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        var sourceInfo = line.IndexOf(" in ", StringComparison.Ordinal);
        return sourceInfo > 0 ? line[..sourceInfo] : line;
    }

    public string Stats()
    {
        var text = new StringBuilder();
        text.Append("outcomes: ").AppendJoin(", ", _outcomes.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value}"));
        text.Append("\n[fuzz] packets decoded by type: ").AppendJoin(", ", _packets.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"));
        text.Append(CultureInfo.InvariantCulture, $"\n[fuzz] {_errors.Count} distinct Malformed reasons:");
        foreach (var (reason, count) in _errors.OrderByDescending(p => p.Value))
        {
            text.Append(CultureInfo.InvariantCulture, $"\n[fuzz]   {count,9}  {reason}");
        }

        return text.ToString();
    }
}
