namespace IoTHub.Data.Entities;

// Rows of the broker's state. Unsigned MQTT numbers are kept in wider signed columns (PostgreSQL
// has no unsigned types), times as Unix milliseconds (one meaning in every database).

/// <summary>The columns of a stored message (not a table of its own).</summary>
public abstract class MessageRow
{
    public required string Topic { get; set; }

    /// <summary>The QoS it was published with.</summary>
    public short MessageQualityOfService { get; set; }

    /// <summary>The RETAIN flag it was published with.</summary>
    public bool MessageRetain { get; set; }

    public required byte[] Properties { get; set; }

    public required byte[] Payload { get; set; }
}

/// <summary>A retained message, one per topic.</summary>
public sealed class RetainedMessageEntity
{
    public required string Topic { get; set; }

    public short QualityOfService { get; set; }

    public bool Retain { get; set; }

    public required byte[] Properties { get; set; }

    public required byte[] Payload { get; set; }

    /// <summary>Unix milliseconds when the message expires (MQTT 5.0 Message Expiry Interval); null when it never does.</summary>
    public long? ExpiresAt { get; set; }

    /// <summary>Unix milliseconds when the broker kept it; null for a row written before retained messages recorded it.</summary>
    public long? StoredAt { get; set; }

    /// <summary>The client id of its publisher; null when the admin API, the dashboard or the broker set it.</summary>
    public string? PublisherClientId { get; set; }

    /// <summary>The user name its publisher logged in with; null for an anonymous client or no client.</summary>
    public string? PublisherUserName { get; set; }
}

/// <summary>A row that belongs to one session, found by its client id.</summary>
public interface ISessionRow
{
    string ClientId { get; }
}

/// <summary>A persistent session.</summary>
public sealed class SessionEntity : ISessionRow
{
    public required string ClientId { get; set; }

    /// <summary>Session Expiry Interval in seconds.</summary>
    public long ExpiryInterval { get; set; }

    /// <summary>Unix milliseconds when the client went offline; null while connected.</summary>
    public long? DisconnectedAt { get; set; }

    /// <summary>The cluster node that owns it (its name, address:port); null without clustering.</summary>
    public string? OwnerNode { get; set; }
}

public sealed class SubscriptionEntity : ISessionRow
{
    public required string ClientId { get; set; }

    public required string TopicFilter { get; set; }

    public short QualityOfService { get; set; }

    public bool NoLocal { get; set; }

    public bool RetainAsPublished { get; set; }

    public short RetainHandling { get; set; }

    public long SubscriptionId { get; set; }
}

/// <summary>A message waiting for a session; <see cref="Sequence"/> orders the queue.</summary>
public sealed class QueuedMessageEntity : MessageRow, ISessionRow
{
    public required string ClientId { get; set; }

    public long Sequence { get; set; }

    /// <summary>The QoS the session gets it at.</summary>
    public short QualityOfService { get; set; }

    /// <summary>The RETAIN flag the session gets it with.</summary>
    public bool Retain { get; set; }

    /// <summary>Unix milliseconds when the message expires (MQTT 5.0 Message Expiry Interval); null when it never does.</summary>
    public long? ExpiresAt { get; set; }
}

/// <summary>An outgoing QoS 1/2 message sent and not yet completed, by packet id.</summary>
public sealed class OutgoingInflightEntity : MessageRow, ISessionRow
{
    public required string ClientId { get; set; }

    public int PacketId { get; set; }

    /// <summary>Send order.</summary>
    public long Sequence { get; set; }

    public short QualityOfService { get; set; }

    public bool Retain { get; set; }

    /// <summary>QoS 2: PUBREL sent.</summary>
    public bool Released { get; set; }

    /// <summary>Unix milliseconds when the message expires (MQTT 5.0 Message Expiry Interval); null when it never does.</summary>
    public long? ExpiresAt { get; set; }
}

/// <summary>An incoming QoS 2 packet id received and not yet released.</summary>
public sealed class IncomingQos2Entity : ISessionRow
{
    public required string ClientId { get; set; }

    public int PacketId { get; set; }
}

/// <summary>A will waiting for its delay.</summary>
public sealed class PendingWillEntity : MessageRow
{
    public required string ClientId { get; set; }

    public long DelayInterval { get; set; }

    /// <summary>Unix milliseconds when it is published.</summary>
    public long DueAt { get; set; }

    /// <summary>The will's Message Expiry Interval in seconds, which starts when it is published; null when it has none.</summary>
    public long? ExpiryInterval { get; set; }
}

/// <summary>
/// The will of a client connected to a cluster node (docs/clustering.md#wills-of-a-dead-nodes-clients): written with the session at CONNECT,
/// deleted when the connection ends, so that a survivor publishes it when the node dies. Only clustered nodes on PostgreSQL write it.
/// </summary>
public sealed class ConnectionWillEntity : MessageRow
{
    public required string ClientId { get; set; }

    /// <summary>The node the client is connected to (its name, address:port).</summary>
    public required string OwnerNode { get; set; }

    /// <summary>The connection's claim of its client id: a later connection's will replaces it, and its end deletes only its own.</summary>
    public long Connection { get; set; }

    /// <summary>The Will Delay Interval in seconds.</summary>
    public long DelayInterval { get; set; }

    /// <summary>The will's Message Expiry Interval in seconds, which starts when it is published; null when it has none.</summary>
    public long? ExpiryInterval { get; set; }
}
