namespace IoTHub.Broker.Diagnostics;

/// <summary>
/// Lets through at most a fixed number of log lines per period and counts the rest, so that a flood
/// of bad connects cannot flood the log (DESIGN §2.8).
/// </summary>
public sealed class LogRateLimiter(int linesPerPeriod, TimeSpan period, TimeProvider time)
{
    private readonly Lock _sync = new();
    private long _periodStart = time.GetTimestamp();
    private int _lines;
    private long _suppressed;

    /// <summary>True when this line may be logged; <paramref name="suppressedBefore"/> counts lines dropped in the period that just ended.</summary>
    public bool TryAcquire(out long suppressedBefore)
    {
        lock (_sync)
        {
            suppressedBefore = 0;
            if (time.GetElapsedTime(_periodStart) >= period)
            {
                suppressedBefore = _suppressed;
                _suppressed = 0;
                _lines = 0;
                _periodStart = time.GetTimestamp();
            }

            if (_lines < linesPerPeriod)
            {
                _lines++;
                return true;
            }

            _suppressed++;
            return false;
        }
    }
}
