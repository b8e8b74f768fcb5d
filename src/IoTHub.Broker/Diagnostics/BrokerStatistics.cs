using System.Diagnostics;
using System.Diagnostics.Metrics;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Diagnostics;

/// <summary>
/// Counters of one broker, updated without locks; read by metrics, <c>$SYS</c> and the admin API. Hot
/// counters are added once per read or written batch, not once per message.
/// </summary>
public sealed class BrokerStatistics
{
    private readonly long[] _messagesReceived = new long[3];
    private readonly long[] _publishBytesReceived = new long[3];
    private readonly long[] _messagesDelivered = new long[3];
    private readonly long[] _publishBytesSent = new long[3];
    private readonly long[] _dropped = new long[DropReasons.All.Length];
    private readonly long[] _closed = new long[ConnectionCloseReasons.All.Length];
    private long _connectionsAccepted;
    private long _connectionsRefused;
    private long _authenticationFailures;
    private long _stuckClientsDisconnected;
    private long _packetsReceived;
    private long _packetsSent;
    private long _bytesReceived;
    private long _bytesSent;
    private Histogram<double>? _deliveryLatency;
    private KeyValuePair<string, object?> _deliveryLatencyTag;

    public long ConnectionsAccepted => Volatile.Read(ref _connectionsAccepted);

    public long ConnectionsRefused => Volatile.Read(ref _connectionsRefused);

    /// <summary>CONNECTs refused because the client did not authenticate (see <see cref="AuthenticationFailed"/>).</summary>
    public long AuthenticationFailures => Volatile.Read(ref _authenticationFailures);

    /// <summary>PUBLISH messages accepted from clients, every QoS.</summary>
    public long MessagesReceived => Sum(_messagesReceived);

    /// <summary>PUBLISH packets written to subscribers, every QoS.</summary>
    public long MessagesDelivered => Sum(_messagesDelivered);

    /// <summary>Messages the broker threw away, every reason.</summary>
    public long MessagesDropped => Sum(_dropped);

    public long StuckClientsDisconnected => Volatile.Read(ref _stuckClientsDisconnected);

    /// <summary>MQTT packets of every type received.</summary>
    public long PacketsReceived => Volatile.Read(ref _packetsReceived);

    public long PacketsSent => Volatile.Read(ref _packetsSent);

    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    public long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>PUBLISH messages accepted from clients at this QoS.</summary>
    public long MessagesReceivedAt(QualityOfService qos) => Volatile.Read(ref _messagesReceived[(int)qos]);

    /// <summary>Bytes of those PUBLISH packets, as they came on the wire.</summary>
    public long PublishBytesReceivedAt(QualityOfService qos) => Volatile.Read(ref _publishBytesReceived[(int)qos]);

    /// <summary>PUBLISH packets written to subscribers at this QoS (the QoS of the delivery, not of the publisher).</summary>
    public long MessagesDeliveredAt(QualityOfService qos) => Volatile.Read(ref _messagesDelivered[(int)qos]);

    /// <summary>Bytes of those PUBLISH packets.</summary>
    public long PublishBytesSentAt(QualityOfService qos) => Volatile.Read(ref _publishBytesSent[(int)qos]);

    public long Dropped(DropReason reason) => Volatile.Read(ref _dropped[(int)reason]);

    /// <summary>Connections whose CONNECT was accepted that ended for <paramref name="reason"/>, each counted once.</summary>
    public long ConnectionsClosed(ConnectionCloseReason reason) => Volatile.Read(ref _closed[(int)reason]);

    /// <summary>
    /// Makes the write loops record delivery latencies in <paramref name="histogram"/> with <paramref name="tag"/>:
    /// seconds from a decoded PUBLISH to the outgoing PUBLISH handed to the transport, one per written
    /// batch (its oldest live delivery; a lone message is a batch of its own). Nothing is measured while
    /// the instrument has no listener.
    /// </summary>
    public void RecordDeliveryLatencyIn(Histogram<double> histogram, KeyValuePair<string, object?> tag)
    {
        _deliveryLatencyTag = tag;
        Volatile.Write(ref _deliveryLatency, histogram);
    }

    /// <summary>True when delivery latencies are wanted; a write loop then takes one timestamp per batch.</summary>
    internal bool DeliveryLatencyEnabled => _deliveryLatency is { Enabled: true };

    /// <summary>A batch whose oldest live delivery was received at <paramref name="receivedAt"/>, written at <paramref name="writtenAt"/> (<see cref="Stopwatch"/> timestamps).</summary>
    internal void BatchWritten(long receivedAt, long writtenAt) =>
        _deliveryLatency?.Record(Stopwatch.GetElapsedTime(receivedAt, writtenAt).TotalSeconds, _deliveryLatencyTag);

    /// <summary>Counted once per read, not per packet, to keep shared counters off the hot path.</summary>
    internal void Received(int packets, long bytes, ref QosTally publishes)
    {
        Interlocked.Add(ref _packetsReceived, packets);
        Interlocked.Add(ref _bytesReceived, bytes);
        publishes.MoveTo(_messagesReceived, _publishBytesReceived);
    }

    /// <summary>Counted once per written batch.</summary>
    internal void Sent(int packets, long bytes, ref QosTally publishes)
    {
        Interlocked.Add(ref _packetsSent, packets);
        Interlocked.Add(ref _bytesSent, bytes);
        publishes.MoveTo(_messagesDelivered, _publishBytesSent);
    }

    internal void ConnectionAccepted() => Interlocked.Increment(ref _connectionsAccepted);

    /// <summary>Once per connection whose CONNECT was accepted, as it ends.</summary>
    internal void ConnectionClosed(ConnectionCloseReason reason) => Interlocked.Increment(ref _closed[(int)reason]);

    internal void ConnectionRefused() => Interlocked.Increment(ref _connectionsRefused);

    /// <summary>The seam for MQTT authentication: every CONNECT refused for its credentials or authentication method is counted here.</summary>
    internal void AuthenticationFailed() => Interlocked.Increment(ref _authenticationFailures);

    internal void MessagesDroppedAdd(DropReason reason, long count = 1)
    {
        if (count > 0)
        {
            Interlocked.Add(ref _dropped[(int)reason], count);
        }
    }

    internal void StuckClientDisconnected() => Interlocked.Increment(ref _stuckClientsDisconnected);

    private static long Sum(long[] counters)
    {
        long sum = 0;
        for (var i = 0; i < counters.Length; i++)
        {
            sum += Volatile.Read(ref counters[i]);
        }

        return sum;
    }
}
