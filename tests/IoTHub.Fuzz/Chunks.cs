using System.Buffers;

namespace IoTHub.Fuzz;

/// <summary>Bytes cut into a chain of buffers of one length, as a socket may hand them over: packets then straddle segments.</summary>
internal sealed class Chunks : ReadOnlySequenceSegment<byte>
{
    private Chunks(ReadOnlyMemory<byte> memory, long runningIndex) => (Memory, RunningIndex) = (memory, runningIndex);

    /// <summary><paramref name="bytes"/> (copied) in segments of <paramref name="length"/> bytes, the last one shorter.</summary>
    public static ReadOnlySequence<byte> Of(ReadOnlySpan<byte> bytes, int length)
    {
        if (bytes.Length <= length)
        {
            return new ReadOnlySequence<byte>(bytes.ToArray());
        }

        var first = new Chunks(bytes[..length].ToArray(), 0);
        var last = first;
        for (var start = length; start < bytes.Length; start += length)
        {
            var next = new Chunks(bytes[start..Math.Min(bytes.Length, start + length)].ToArray(), start);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
