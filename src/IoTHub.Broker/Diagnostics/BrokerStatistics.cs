namespace IoTHub.Broker.Diagnostics;

/// <summary>Counters of one broker, updated without locks; read by metrics and the admin API.</summary>
public sealed class BrokerStatistics
{
    private long _connectionsAccepted;
    private long _connectionsRefused;
    private long _messagesReceived;
    private long _messagesDelivered;
    private long _messagesDropped;
    private long _stuckClientsDisconnected;
    private long _packetsReceived;
    private long _packetsSent;
    private long _bytesReceived;
    private long _bytesSent;

    public long ConnectionsAccepted => Volatile.Read(ref _connectionsAccepted);

    public long ConnectionsRefused => Volatile.Read(ref _connectionsRefused);

    public long MessagesReceived => Volatile.Read(ref _messagesReceived);

    public long MessagesDelivered => Volatile.Read(ref _messagesDelivered);

    /// <summary>Messages dropped because a session's queue was full.</summary>
    public long MessagesDropped => Volatile.Read(ref _messagesDropped);

    public long StuckClientsDisconnected => Volatile.Read(ref _stuckClientsDisconnected);

    /// <summary>MQTT packets of every type received.</summary>
    public long PacketsReceived => Volatile.Read(ref _packetsReceived);

    public long PacketsSent => Volatile.Read(ref _packetsSent);

    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    public long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>Counted once per read, not per packet, to keep shared counters off the hot path.</summary>
    internal void Received(int packets, long bytes)
    {
        Interlocked.Add(ref _packetsReceived, packets);
        Interlocked.Add(ref _bytesReceived, bytes);
    }

    /// <summary>Counted once per written batch.</summary>
    internal void Sent(int packets, long bytes)
    {
        Interlocked.Add(ref _packetsSent, packets);
        Interlocked.Add(ref _bytesSent, bytes);
    }

    internal void ConnectionAccepted() => Interlocked.Increment(ref _connectionsAccepted);

    internal void ConnectionRefused() => Interlocked.Increment(ref _connectionsRefused);

    internal void MessageReceived() => Interlocked.Increment(ref _messagesReceived);

    internal void MessagesDeliveredAdd(int count) => Interlocked.Add(ref _messagesDelivered, count);

    internal void MessageDropped() => Interlocked.Increment(ref _messagesDropped);

    internal void StuckClientDisconnected() => Interlocked.Increment(ref _stuckClientsDisconnected);
}
