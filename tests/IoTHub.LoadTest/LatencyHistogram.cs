using System.Numerics;

namespace IoTHub.LoadTest;

/// <summary>
/// Log-linear histogram of nanoseconds (64 sub-buckets per power of two, so within 1.6 %): fixed size,
/// no allocation per value. One per receiving connection (a single reader), merged at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBuckets = 64;
    private readonly long[] _counts = new long[128 + (SubBuckets * 58)];

    public long Count { get; private set; }

    public long Max { get; private set; }

    public void Record(long nanoseconds)
    {
        if (nanoseconds < 0)
        {
            nanoseconds = 0;
        }

        _counts[Index(nanoseconds)]++;
        Count++;
        if (nanoseconds > Max)
        {
            Max = nanoseconds;
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The value at or below which <paramref name="fraction"/> of the values lie, in nanoseconds.</summary>
    public long Percentile(double fraction)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(fraction * Count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperBound(i), Max);
            }
        }

        return Max;
    }

    private static int Index(long value)
    {
        if (value < 128)
        {
            return (int)value;
        }

        var shift = 63 - BitOperations.LeadingZeroCount((ulong)value) - 6; // value >> shift is in [64, 127]
        return 128 + ((shift - 1) * SubBuckets) + (int)((value >> shift) - SubBuckets);
    }

    private static long UpperBound(int index)
    {
        if (index < 128)
        {
            return index;
        }

        var shift = ((index - 128) / SubBuckets) + 1;
        var sub = ((index - 128) % SubBuckets) + SubBuckets;
        return ((long)(sub + 1) << shift) - 1;
    }
}
