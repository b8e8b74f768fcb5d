using System.Buffers;

namespace IoTHub.Benchmarks;

/// <summary>Builds multi-segment sequences, the shape a socket pipe delivers when a packet spans reads.</summary>
internal static class SegmentedSequence
{
    /// <summary>One segment per cut; <paramref name="cuts"/> are ascending offsets inside <paramref name="bytes"/>.</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        Segment? first = null;
        Segment? last = null;
        var start = 0;
        foreach (var end in cuts.Append(bytes.Length))
        {
            // Each segment owns its array, as separate pipe buffers would.
            var piece = bytes.AsSpan(start, end - start).ToArray();
            last = last is null ? first = new Segment(piece, 0) : last.Append(piece);
            start = end;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
