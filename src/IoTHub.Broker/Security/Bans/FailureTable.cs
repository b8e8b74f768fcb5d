using System.Collections.Concurrent;

namespace IoTHub.Broker.Security.Bans;

/// <summary>
/// Failed logins and bans of one kind (addresses or user names). A check is one dictionary look-up, skipped while the
/// table is empty. Bounded: when <see cref="BanOptions.Capacity"/> keys are tracked, a new key first makes the table
/// drop what no longer matters (counts whose window passed, bans that ended); if it is still full, counts that have
/// not led to a ban go, a quarter of the table at a time (so the clean-up costs O(1) per new key over time), and active
/// bans stay. A table full of active bans tracks no new key until bans end; it is then looked through again at most
/// once a second, so a flood of new keys cannot keep it busy.
/// </summary>
internal sealed class FailureTable<TKey>(BanOptions options, TimeProvider time)
    where TKey : notnull
{
    private static readonly TimeSpan FullOfBansRetry = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<TKey, Offender> _entries = new();
    private readonly Lock _cleanUp = new();
    private long _cleanUpAfter;
    private int _count;
    private long _bans;

    /// <summary>Keys tracked: counting, banned, or ended and not yet dropped.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Bans started since the start.</summary>
    public long Bans => Interlocked.Read(ref _bans);

    public bool IsBanned(TKey key) => Count != 0 && _entries.TryGetValue(key, out var offender) && offender.BannedAt(Now);

    /// <summary>Counts a failed login; the end of the ban when this one starts a ban, else null.</summary>
    public DateTimeOffset? Fail(TKey key)
    {
        var now = Now;
        if (!_entries.TryGetValue(key, out var offender))
        {
            if (!MakeRoom(now))
            {
                return null;
            }

            offender = _entries.GetOrAdd(key, static _ => new Offender());
            if (offender.Added())
            {
                Interlocked.Increment(ref _count);
            }
        }

        lock (offender)
        {
            if (offender.BannedAt(now))
            {
                return null; // a login that was under way when the ban started
            }

            if (offender.BannedUntil != 0 || now - offender.WindowStart >= options.Window.Ticks)
            {
                // A ban that ended, or a window that passed: counting starts over.
                (offender.Failures, offender.WindowStart, offender.BannedUntil) = (0, now, 0);
            }

            if (++offender.Failures < options.MaxFailures)
            {
                return null;
            }

            Volatile.Write(ref offender.BannedUntil, now + options.Duration.Ticks);
        }

        Interlocked.Increment(ref _bans);
        return new DateTimeOffset(now + options.Duration.Ticks, TimeSpan.Zero);
    }

    /// <summary>A login that succeeded forgets the key's failures, unless it is banned.</summary>
    public void Forget(TKey key)
    {
        if (Count != 0 && _entries.TryGetValue(key, out var offender) && !offender.BannedAt(Now))
        {
            Remove(key, offender);
        }
    }

    /// <summary>Ends the key's ban and forgets its failures; false when it was not banned.</summary>
    public bool Lift(TKey key) => _entries.TryGetValue(key, out var offender) && offender.BannedAt(Now) && Remove(key, offender);

    /// <summary>The bans in force, with their keys.</summary>
    public IEnumerable<(TKey Key, int Failures, DateTimeOffset Until)> Active()
    {
        var now = Now;
        foreach (var (key, offender) in _entries)
        {
            var until = Volatile.Read(ref offender.BannedUntil);
            if (until > now)
            {
                yield return (key, offender.Failures, new DateTimeOffset(until, TimeSpan.Zero));
            }
        }
    }

    private long Now => time.GetUtcNow().UtcTicks;

    private bool MakeRoom(long now)
    {
        if (Count < options.Capacity)
        {
            return true;
        }

        lock (_cleanUp)
        {
            if (Count >= options.Capacity && now >= _cleanUpAfter)
            {
                var window = options.Window.Ticks;
                foreach (var (key, offender) in _entries)
                {
                    var until = Volatile.Read(ref offender.BannedUntil);
                    if (until == 0 ? now - offender.WindowStart >= window : until <= now)
                    {
                        Remove(key, offender);
                    }
                }

                var target = options.Capacity - (options.Capacity / 4);
                foreach (var (key, offender) in _entries)
                {
                    if (Count <= target)
                    {
                        break;
                    }

                    if (!offender.BannedAt(now))
                    {
                        Remove(key, offender);
                    }
                }

                _cleanUpAfter = Count < options.Capacity ? 0 : now + FullOfBansRetry.Ticks;
            }

            return Count < options.Capacity;
        }
    }

    private bool Remove(TKey key, Offender offender)
    {
        if (!_entries.TryRemove(new KeyValuePair<TKey, Offender>(key, offender)))
        {
            return false;
        }

        Interlocked.Decrement(ref _count);
        return true;
    }

    /// <summary>One key's failures in its window, and the end of its ban (UTC ticks; 0: none). Changed under its own lock.</summary>
    private sealed class Offender
    {
        public int Failures;
        public long WindowStart;
        public long BannedUntil;
        private int _added;

        public bool BannedAt(long now) => Volatile.Read(ref BannedUntil) > now;

        /// <summary>True only for the caller that put this entry in the table, so it is counted once.</summary>
        public bool Added() => Interlocked.Exchange(ref _added, 1) == 0;
    }
}
