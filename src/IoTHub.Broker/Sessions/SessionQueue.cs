using IoTHub.Mqtt;

namespace IoTHub.Broker.Sessions;

/// <summary>
/// A session's messages waiting to be sent, in arrival order, with their count and bytes. QoS 0 and
/// QoS 1/2 messages are kept in two FIFO queues stamped with one arrival counter, so that the head is
/// the older of the two heads and the oldest QoS 0 message is always at the front of its own queue:
/// every operation on a full queue (drop the oldest QoS 0, refuse the new message) costs the same
/// whatever the queue's length. Not thread-safe: the session's lock guards it.
/// </summary>
internal sealed class SessionQueue
{
    // Both made with their first message: most sessions never queue anything of one kind or the other.
    private Queue<Entry>? _atMostOnce;
    private Queue<Entry>? _reliable;
    private long _atMostOnceBytes;
    private long _arrivals;

    public int Count { get; private set; }

    public long Bytes { get; private set; }

    /// <summary>
    /// Entries read or written by this queue's operations since it was made: what an operation costs,
    /// counted rather than timed (the overflow test checks that it does not grow with the length).
    /// </summary>
    public long EntriesTouched { get; private set; }

    public void Enqueue(in Delivery delivery)
    {
        var entry = new Entry(delivery, ++_arrivals);
        if (delivery.QualityOfService == QualityOfService.AtMostOnce)
        {
            (_atMostOnce ??= new Queue<Entry>()).Enqueue(entry);
            _atMostOnceBytes += delivery.Message.Size;
        }
        else
        {
            (_reliable ??= new Queue<Entry>()).Enqueue(entry);
        }

        Count++;
        Bytes += delivery.Message.Size;
        EntriesTouched++;
    }

    /// <summary>The oldest message, without taking it.</summary>
    public bool TryPeek(out Delivery delivery)
    {
        var found = TryPeekHead(out var entry, out _);
        delivery = entry.Delivery;
        return found;
    }

    /// <summary>Every queued message, oldest first: what the client would be sent, in that order.</summary>
    public List<Delivery> ToList()
    {
        var all = new List<Entry>(Count);
        all.AddRange(_atMostOnce ?? []);
        all.AddRange(_reliable ?? []);
        all.Sort((a, b) => a.Arrival.CompareTo(b.Arrival));
        return all.ConvertAll(entry => entry.Delivery);
    }

    /// <summary>Takes the message <see cref="TryPeek"/> returns.</summary>
    public void RemoveOldest()
    {
        if (!TryPeekHead(out var entry, out var queue))
        {
            throw new InvalidOperationException("the queue is empty");
        }

        queue!.Dequeue();
        Forget(entry.Delivery);
    }

    /// <summary>
    /// Makes room for a message of <paramref name="size"/> bytes within the limits by dropping the oldest
    /// QoS 0 messages. Drops nothing and returns false when even dropping every QoS 0 message would not
    /// make room (a queue full of QoS 1/2 messages refuses the new one at once). Each message is dropped
    /// at most once, so over many calls this costs O(1) per message.
    /// </summary>
    public bool TryMakeRoom(long size, int maximumCount, long maximumBytes, out int dropped)
    {
        dropped = 0;
        var reliableCount = Count - (_atMostOnce?.Count ?? 0);
        if (reliableCount >= maximumCount || Bytes - _atMostOnceBytes + size > maximumBytes)
        {
            return false;
        }

        while (Count >= maximumCount || Bytes + size > maximumBytes)
        {
            Forget(_atMostOnce!.Dequeue().Delivery);
            dropped++;
        }

        return true;
    }

    /// <summary>Moves every message <paramref name="take"/> selects into <paramref name="taken"/>, keeping the others in order.</summary>
    public void TakeWhere(Func<Delivery, bool> take, List<Delivery> taken)
    {
        TakeWhere(_atMostOnce, take, taken);
        TakeWhere(_reliable, take, taken);
    }

    public void Clear()
    {
        _atMostOnce = null;
        _reliable = null;
        _atMostOnceBytes = 0;
        Count = 0;
        Bytes = 0;
    }

    private void TakeWhere(Queue<Entry>? queue, Func<Delivery, bool> take, List<Delivery> taken)
    {
        if (queue is null)
        {
            return;
        }

        var count = queue.Count;
        for (var i = 0; i < count; i++)
        {
            var entry = queue.Dequeue();
            if (!take(entry.Delivery))
            {
                queue.Enqueue(entry);
                EntriesTouched++;
                continue;
            }

            Forget(entry.Delivery);
            taken.Add(entry.Delivery);
        }
    }

    /// <summary>The accounting of a message that left the queue.</summary>
    private void Forget(in Delivery delivery)
    {
        var size = delivery.Message.Size;
        if (delivery.QualityOfService == QualityOfService.AtMostOnce)
        {
            _atMostOnceBytes -= size;
        }

        Count--;
        Bytes -= size;
        EntriesTouched++;
    }

    private bool TryPeekHead(out Entry head, out Queue<Entry>? queue)
    {
        Entry atMostOnce = default, reliable = default;
        var hasAtMostOnce = _atMostOnce?.TryPeek(out atMostOnce) == true;
        var hasReliable = _reliable?.TryPeek(out reliable) == true;
        if (hasAtMostOnce && (!hasReliable || atMostOnce.Arrival < reliable.Arrival))
        {
            (head, queue) = (atMostOnce, _atMostOnce);
            return true;
        }

        (head, queue) = (reliable, hasReliable ? _reliable : null);
        return hasReliable;
    }

    private readonly record struct Entry(Delivery Delivery, long Arrival);
}
