using System.Collections.Concurrent;
using IoTHub.Broker.Sessions;

namespace IoTHub.Broker.Wills;

/// <summary>
/// Wills waiting out their MQTT 5.0 Will Delay Interval (§3.1.3.2.2): published when the delay or the
/// session ends, whichever comes first, and dropped if the client reconnects to the session before.
/// </summary>
internal sealed class PendingWills
{
    private readonly ConcurrentDictionary<Session, (Will Will, long DueAt)> _wills = new(ReferenceEqualityComparer.Instance);

    public int Count => _wills.Count;

    public void Add(Session session, Will will, long dueAt) => _wills[session] = (will, dueAt);

    /// <summary>Takes the session's pending will out, if any.</summary>
    public Will? Take(Session session) => _wills.TryRemove(session, out var entry) ? entry.Will : null;

    /// <summary>Takes out every will whose time has come.</summary>
    public void TakeDue(long now, List<Will> due)
    {
        foreach (var (session, entry) in _wills)
        {
            if (entry.DueAt <= now && _wills.TryRemove(new KeyValuePair<Session, (Will, long)>(session, entry)))
            {
                due.Add(entry.Will);
            }
        }
    }
}
