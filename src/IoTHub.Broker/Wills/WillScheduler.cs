using System.Collections.Concurrent;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Storage;

namespace IoTHub.Broker.Wills;

/// <summary>
/// Publishes wills: at once, or after their MQTT 5.0 Will Delay Interval (§3.1.3.2.2). A delayed will goes when
/// the delay or the session ends, whichever comes first, and is dropped when the client comes back to the session
/// before [MQTT-3.1.3-9]. Delayed wills are stored, so that they survive a restart. Publishing goes through the
/// broker's own publish (retained wills are stored), never under a lock of the session registry.
/// </summary>
internal sealed class WillScheduler(TimeProvider time, Action<MqttMessage> publish)
{
    private readonly ConcurrentDictionary<Session, (Will Will, long DueAt)> _wills = new(ReferenceEqualityComparer.Instance);

    public int Count => _wills.Count;

    /// <summary>Where delayed wills are stored.</summary>
    public Persistence Persistence { get; set; } = Persistence.None;

    /// <summary>Publishes the will now, its Message Expiry Interval counting from now.</summary>
    public void PublishNow(Will will) => publish(will.ToMessage(time));

    /// <summary>
    /// Holds the delayed will of a connection that ended while its session continues: until the delay or the
    /// session's expiry, whichever is shorter.
    /// </summary>
    public void HoldForDelay(Session session, Will will, long now) =>
        Hold(session, will, now + (long)(Math.Min(will.Delay, session.ExpiryInterval) * (double)time.TimestampFrequency));

    /// <summary>Holds a will until <paramref name="dueAt"/> (a timestamp of the broker's clock), replacing the session's previous one.</summary>
    public void Hold(Session session, Will will, long dueAt)
    {
        _wills[session] = (will, dueAt);
        var dueIn = time.GetElapsedTime(time.GetTimestamp(), dueAt);
        Persistence.Write(StorageOperation.SetWill(session.ClientId, will.Unpublished(time), will.Delay, time.GetUtcNow() + dueIn, will.ExpiryInterval));
    }

    /// <summary>Hands the will held for <paramref name="from"/> (if any) to <paramref name="to"/>, the same client's session read again from the store; its stored copy stays.</summary>
    public void Transfer(Session from, Session to)
    {
        if (_wills.TryRemove(from, out var entry))
        {
            _wills[to] = entry;
        }
    }

    /// <summary>Takes the session's held will out, if any: the client came back, or the session ends now.</summary>
    public Will? Take(Session session)
    {
        if (!_wills.TryRemove(session, out var entry))
        {
            return null;
        }

        Persistence.Write(StorageOperation.DeleteWill(session.ClientId));
        return entry.Will;
    }

    /// <summary>Publishes every held will whose time has come; returns how many.</summary>
    public int PublishDue(long now)
    {
        var published = 0;
        foreach (var (session, entry) in _wills)
        {
            if (entry.DueAt <= now && _wills.TryRemove(new KeyValuePair<Session, (Will, long)>(session, entry)))
            {
                Persistence.Write(StorageOperation.DeleteWill(session.ClientId));
                PublishNow(entry.Will);
                published++;
            }
        }

        return published;
    }
}
