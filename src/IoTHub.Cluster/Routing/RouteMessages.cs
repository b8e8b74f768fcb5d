using Orleans;

namespace IoTHub.Cluster.Routing;

/// <summary>A filter that got its first subscription on the sending node (<see cref="Subscribed"/>) or lost its last.</summary>
[GenerateSerializer, Immutable]
internal readonly record struct FilterDelta([property: Id(0)] string Filter, [property: Id(1)] bool Subscribed);

/// <summary>
/// The changes of a node's filters since its previous batch, numbered: batch n follows n - 1. A batch without changes is a
/// heartbeat that only tells the sender's last number, so a receiver that missed the last batch finds out.
/// </summary>
/// <param name="Adopted">
/// The dead nodes (silo addresses) whose sessions the sender adopted since its previous batch: their filters are in this batch or
/// an earlier one, so a receiver that applied it forgets the dead nodes' filters (docs/clustering.md#a-dead-nodes-routes).
/// </param>
[GenerateSerializer, Immutable]
internal sealed record FilterBatch([property: Id(0)] long Sequence, [property: Id(1)] FilterDelta[] Deltas, [property: Id(2)] string[] Adopted);

/// <summary>Every filter of a node as of its batch <see cref="Sequence"/>, and every dead node it adopted.</summary>
[GenerateSerializer, Immutable]
internal sealed record FilterSnapshot([property: Id(0)] long Sequence, [property: Id(1)] string[] Filters, [property: Id(2)] string[] Adopted);

/// <summary>A live message forwarded to another node: what its sessions need to get it as they would a local one, and which of them.</summary>
/// <param name="ExpiresIn">Seconds left of its Message Expiry Interval; null when it never expires.</param>
/// <param name="ToSubscribers">The node's ordinary subscriptions get it.</param>
/// <param name="SharedGroups">The share groups (<c>$share/{group}/{filter}</c>) whose turn the publishing node gave the node: one member of each gets it.</param>
[GenerateSerializer, Immutable]
internal sealed record ForwardedMessage(
    [property: Id(0)] string Topic,
    [property: Id(1)] byte[] Properties,
    [property: Id(2)] byte[] Payload,
    [property: Id(3)] byte QualityOfService,
    [property: Id(4)] bool Retain,
    [property: Id(5)] string? PublisherId,
    [property: Id(6)] uint? ExpiresIn,
    [property: Id(7)] bool ToSubscribers,
    [property: Id(8)] string[] SharedGroups);

/// <summary>
/// What a call carrying QoS 2 messages asks the receiving node to commit with the batch (docs/clustering.md#forward-receipts): that
/// node <see cref="To"/> took call <see cref="Sequence"/> of node <see cref="From"/>, so that <see cref="From"/> can tell, once
/// <see cref="To"/> died with the call unanswered, whether it took it.
/// </summary>
/// <param name="From">The sending node (its silo address).</param>
/// <param name="To">The receiving node (its silo address, with its generation: a restarted node is another).</param>
/// <param name="Sequence">The call's number among the sender's calls to the node.</param>
/// <param name="PruneBelow">The receipts of the pair below this number are no longer asked for: the sender knows those calls' outcome.</param>
[GenerateSerializer, Immutable]
internal sealed record ForwardReceipt([property: Id(0)] string From, [property: Id(1)] string To, [property: Id(2)] long Sequence,
    [property: Id(3)] long PruneBelow);
