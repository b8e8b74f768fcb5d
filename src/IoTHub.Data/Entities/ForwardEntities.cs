namespace IoTHub.Data.Entities;

// Forward receipts (docs/storage.md#forward-receipts-cluster), written and read by RelationalBrokerStore's own SQL acting for a cluster
// node on PostgreSQL; the tables exist in SQLite too (one model for both providers).

/// <summary>
/// A node that received forwarded QoS 2 calls: its row's lock orders its receipt-carrying commits against the fence of a node that
/// declared it dead, and once fenced none of them commits.
/// </summary>
public sealed class ForwardFenceEntity
{
    /// <summary>The receiving node's name (address:port).</summary>
    public required string Node { get; set; }

    /// <summary>Declared dead: no batch of it carrying a forward receipt commits any more.</summary>
    public bool Fenced { get; set; }

    /// <summary>Unix milliseconds of its last receipt or of its fence; rows a day older are deleted.</summary>
    public long TouchedAt { get; set; }
}

/// <summary>A forwarded call that the receiving node committed, with the session writes of the call, in one transaction.</summary>
public sealed class ForwardReceiptEntity
{
    /// <summary>The node that forwarded the call.</summary>
    public required string FromNode { get; set; }

    /// <summary>The node that committed it.</summary>
    public required string ToNode { get; set; }

    /// <summary>The call's sequence among the forwarding node's calls to the receiving node.</summary>
    public long Sequence { get; set; }
}
