namespace IoTHub.Web.Alarms;

/// <summary>An alarm the broker raised: what (<see cref="AlarmNames"/>), about what, why, since when, and when it cleared (null while active).</summary>
/// <param name="Name">connections_high, session_queue_high, storage_write_errors, certificate_expiring or authentication_backend_failing.</param>
/// <param name="Subject">What it is about: a broker's name, "storage", a listener's URL, or an authenticator's section (Security:Authenticators:0).</param>
/// <param name="Detail">The condition as last seen, in a sentence.</param>
/// <param name="RaisedAt">When the condition was first seen.</param>
/// <param name="ClearedAt">When it was first seen gone; null while the alarm is active.</param>
internal sealed record Alarm(string Name, string Subject, string Detail, DateTimeOffset RaisedAt, DateTimeOffset? ClearedAt);

/// <summary>A condition an operator must act on, as seen by one check.</summary>
internal sealed record AlarmCondition(string Name, string Subject, string Detail);

/// <summary>The names of the alarms.</summary>
internal static class AlarmNames
{
    public const string ConnectionsHigh = "connections_high";
    public const string SessionQueueHigh = "session_queue_high";
    public const string StorageWriteErrors = "storage_write_errors";
    public const string CertificateExpiring = "certificate_expiring";
    public const string AuthenticationBackendFailing = "authentication_backend_failing";

    public static readonly string[] All = [ConnectionsHigh, SessionQueueHigh, StorageWriteErrors, CertificateExpiring, AuthenticationBackendFailing];
}

/// <summary>
/// The active alarms and the last <see cref="HistoryCount"/> cleared ones. Each check (every 10 s) hands over the
/// conditions present: a new one raises an alarm, one no longer present clears it.
/// </summary>
internal sealed class AlarmBoard
{
    public const int HistoryCount = 100;

    private readonly Lock _lock = new();
    private readonly Dictionary<(string Name, string Subject), Alarm> _active = [];
    private readonly LinkedList<Alarm> _cleared = new();

    /// <summary>Active alarms, oldest first.</summary>
    public IReadOnlyList<Alarm> Active
    {
        get
        {
            lock (_lock)
            {
                return [.. _active.Values.OrderBy(static a => a.RaisedAt).ThenBy(static a => a.Name, StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>Cleared alarms, the last cleared first.</summary>
    public IReadOnlyList<Alarm> History
    {
        get
        {
            lock (_lock)
            {
                return [.. _cleared];
            }
        }
    }

    public int ActiveCount(string name)
    {
        lock (_lock)
        {
            return _active.Keys.Count(k => k.Name == name);
        }
    }

    /// <summary>Raises the alarms of the conditions <paramref name="present"/> not active yet, clears the active ones not present.</summary>
    public void Update(IReadOnlyList<AlarmCondition> present, DateTimeOffset now)
    {
        lock (_lock)
        {
            var seen = new HashSet<(string, string)>();
            foreach (var condition in present)
            {
                var key = (condition.Name, condition.Subject);
                seen.Add(key);
                _active[key] = _active.TryGetValue(key, out var active)
                    ? active with { Detail = condition.Detail }
                    : new Alarm(condition.Name, condition.Subject, condition.Detail, now, null);
            }

            foreach (var (key, alarm) in _active.Where(a => !seen.Contains(a.Key)).ToList())
            {
                _active.Remove(key);
                _cleared.AddFirst(alarm with { ClearedAt = now });
                if (_cleared.Count > HistoryCount)
                {
                    _cleared.RemoveLast();
                }
            }
        }
    }
}
