using System.Collections.Concurrent;

namespace IoTHub.Broker.Diagnostics;

/// <summary>
/// Lets one log line per client id through per period (a device retrying with a wrong password every second is
/// said once a minute). Remembers at most <see cref="Capacity"/> client ids; beyond that, ids whose period ended are
/// swept (at most once a period) and further ids are let through unremembered, bounded by the broker's overall limiter.
/// </summary>
internal sealed class PerClientLogLimiter(TimeSpan period, TimeProvider time)
{
    public const int Capacity = 10_000;

    private readonly ConcurrentDictionary<string, long> _lastLogged = new(StringComparer.Ordinal);
    private readonly Lock _sweep = new();
    private long _lastSweep = time.GetTimestamp();

    public bool TryAcquire(string clientId)
    {
        var now = time.GetTimestamp();
        if (_lastLogged.TryGetValue(clientId, out var last))
        {
            if (time.GetElapsedTime(last, now) < period)
            {
                return false;
            }

            _lastLogged[clientId] = now;
            return true;
        }

        if (_lastLogged.Count >= Capacity)
        {
            Sweep(now);
        }

        if (_lastLogged.Count < Capacity)
        {
            _lastLogged[clientId] = now;
        }

        return true;
    }

    private void Sweep(long now)
    {
        lock (_sweep)
        {
            if (time.GetElapsedTime(_lastSweep, now) < period)
            {
                return;
            }

            _lastSweep = now;
            foreach (var (clientId, last) in _lastLogged)
            {
                if (time.GetElapsedTime(last, now) >= period)
                {
                    _lastLogged.TryRemove(clientId, out _);
                }
            }
        }
    }
}
