using System.Diagnostics;

namespace IoTHub.LoadTest;

/// <summary>
/// Open-loop pacing at a fixed total rate, shared by the publishers of one scenario: each takes the
/// messages that are due since the start, so the offered load does not depend on how fast the broker
/// or the tool runs, and the average stays exact whatever the timer's jitter.
/// </summary>
internal sealed class Pace(int rate)
{
    /// <summary>How often a publisher with nothing due looks again.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _taken;

    /// <summary>Takes up to <paramref name="max"/> of the messages due now; 0 when none is.</summary>
    public int Take(int max)
    {
        while (true)
        {
            var taken = Volatile.Read(ref _taken);
            var due = (long)(_clock.Elapsed.TotalSeconds * rate) - taken;
            if (due <= 0)
            {
                return 0;
            }

            var count = (int)Math.Min(due, max);
            if (Interlocked.CompareExchange(ref _taken, taken + count, taken) == taken)
            {
                return count;
            }
        }
    }

    /// <summary>Gives back messages taken but not sent (no credit for them), for the next take.</summary>
    public void Return(int count) => Interlocked.Add(ref _taken, -count);
}
