using System.Buffers;

namespace IoTHub.Mqtt.Tests.Support;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, the shape a socket pipe delivers.</summary>
internal static class Sequences
{
    /// <summary>One segment per cut: <paramref name="cuts"/> are ascending offsets inside <paramref name="bytes"/>.</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        if (cuts.Length == 0)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        Segment? first = null;
        Segment? last = null;
        var start = 0;
        foreach (var cut in cuts.Append(bytes.Length))
        {
            // Each segment gets its own array, so nothing can read across segments by accident.
            var piece = bytes.AsSpan(start, cut - start).ToArray();
            last = last is null ? first = new Segment(piece) : last.Append(piece);
            start = cut;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    /// <summary>Every byte in a segment of its own.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] bytes) =>
        Split(bytes, Enumerable.Range(1, Math.Max(0, bytes.Length - 1)).ToArray());

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory)
        {
            Memory = memory;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
