using System.Collections.Concurrent;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Storage;

namespace IoTHub.Broker.Wills;

/// <summary>
/// Wills waiting out their MQTT 5.0 Will Delay Interval (§3.1.3.2.2): published when the delay or the
/// session ends, whichever comes first, and dropped if the client reconnects to the session before.
/// </summary>
internal sealed class PendingWills(TimeProvider time)
{
    private readonly ConcurrentDictionary<Session, (Will Will, long DueAt)> _wills = new(ReferenceEqualityComparer.Instance);

    public int Count => _wills.Count;

    /// <summary>Where pending wills are stored, so that they survive a restart.</summary>
    public Persistence Persistence { get; set; } = Persistence.None;

    public void Add(Session session, Will will, long dueAt)
    {
        _wills[session] = (will, dueAt);
        var dueIn = time.GetElapsedTime(time.GetTimestamp(), dueAt);
        Persistence.Write(StorageOperation.SetWill(session.ClientId, will.Unpublished(time), will.Delay, time.GetUtcNow() + dueIn, will.ExpiryInterval));
    }

    /// <summary>Takes the session's pending will out, if any.</summary>
    public Will? Take(Session session)
    {
        if (!_wills.TryRemove(session, out var entry))
        {
            return null;
        }

        Persistence.Write(StorageOperation.DeleteWill(session.ClientId));
        return entry.Will;
    }

    /// <summary>Takes out every will whose time has come.</summary>
    public void TakeDue(long now, List<Will> due)
    {
        foreach (var (session, entry) in _wills)
        {
            if (entry.DueAt <= now && _wills.TryRemove(new KeyValuePair<Session, (Will, long)>(session, entry)))
            {
                Persistence.Write(StorageOperation.DeleteWill(session.ClientId));
                due.Add(entry.Will);
            }
        }
    }
}
