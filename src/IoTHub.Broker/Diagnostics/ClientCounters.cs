namespace IoTHub.Broker.Diagnostics;

/// <summary>
/// What one session's clients sent and were sent, and what the broker threw away of what was routed to it or published by it,
/// since the session began in this broker process (a session restored from storage starts again from zero). Like
/// <see cref="BrokerStatistics"/>, traffic is added once per read or written batch, not once per packet.
/// </summary>
public sealed class ClientCounters
{
    private long _messagesIn;
    private long _bytesIn;
    private long _messagesOut;
    private long _bytesOut;

    // Made at the first drop: most sessions never have one, and 8 counters would cost every session 88 B.
    private long[]? _dropped;

    /// <summary>PUBLISH packets received from its clients.</summary>
    public long MessagesIn => Volatile.Read(ref _messagesIn);

    /// <summary>Bytes of every MQTT packet received from its clients, CONNECT included.</summary>
    public long BytesIn => Volatile.Read(ref _bytesIn);

    /// <summary>PUBLISH packets written to its clients.</summary>
    public long MessagesOut => Volatile.Read(ref _messagesOut);

    /// <summary>Bytes of every MQTT packet written to its clients, CONNACK included.</summary>
    public long BytesOut => Volatile.Read(ref _bytesOut);

    /// <summary>Messages lost for <paramref name="reason"/>: routed to the session and not delivered, or published by its client and refused.</summary>
    public long Dropped(DropReason reason) => Volatile.Read(ref _dropped) is { } dropped ? Volatile.Read(ref dropped[(int)reason]) : 0;

    internal void Received(long messages, long bytes)
    {
        Interlocked.Add(ref _messagesIn, messages);
        Interlocked.Add(ref _bytesIn, bytes);
    }

    internal void Sent(long messages, long bytes)
    {
        Interlocked.Add(ref _messagesOut, messages);
        Interlocked.Add(ref _bytesOut, bytes);
    }

    internal void Drop(DropReason reason, long count = 1)
    {
        if (count <= 0)
        {
            return;
        }

        var dropped = Volatile.Read(ref _dropped) ?? Interlocked.CompareExchange(ref _dropped, new long[DropReasons.All.Length], null) ?? _dropped!;
        Interlocked.Add(ref dropped[(int)reason], count);
    }
}
