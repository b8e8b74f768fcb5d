using System.Diagnostics;

namespace IoTHub.LoadTest;

/// <summary>
/// Open-loop pacing at a fixed total rate, shared by the publishers of one scenario: each takes the
/// messages that are due since the start, so the offered load does not depend on how fast the broker
/// or the tool runs, and the average stays exact whatever the timer's jitter.
/// </summary>
/// <param name="rate">Messages per second.</param>
/// <param name="maxLag">
/// With a value, a publisher held up longer than this (TCP back-pressure, unacknowledged QoS 1) does not
/// catch up on what fell due meanwhile beyond this much: those messages are never sent, so the
/// rate it did publish shows the hold-up, and no backlog from one open-loop step spills into the next.
/// </param>
internal sealed class Pace(int rate, TimeSpan? maxLag = null)
{
    /// <summary>How often a publisher with nothing due looks again.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly long _maxDue = maxLag is { } lag ? Math.Max(1, (long)(lag.TotalSeconds * rate)) : long.MaxValue;
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

            var skip = Math.Max(0, due - _maxDue);
            var count = (int)Math.Min(due - skip, max);
            if (Interlocked.CompareExchange(ref _taken, taken + skip + count, taken) == taken)
            {
                return count;
            }
        }
    }

    /// <summary>Gives back messages taken but not sent (no credit for them), for the next take.</summary>
    public void Return(int count) => Interlocked.Add(ref _taken, -count);
}
