using IoTHub.Broker.Messages;

namespace IoTHub.Broker.Storage;

/// <summary>
/// Stored state held in memory, changed by applying operations: the memory store's data, and the
/// file store's image of its snapshot plus log. Not thread-safe: its owner locks.
/// </summary>
public sealed class StorageModel
{
    private readonly Dictionary<string, MqttMessage> _retained = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SessionData> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StoredWill> _wills = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether a store of one node keeps operations of <paramref name="kind"/>: not the wills of connected clients and the forward receipts,
    /// only for the store the nodes of a cluster share (a node-local store has no one to use them).
    /// </summary>
    public static bool Keeps(StorageOperationKind kind) =>
        kind is not (StorageOperationKind.SetConnectionWill or StorageOperationKind.DeleteConnectionWill or StorageOperationKind.ForwardReceipt);

    /// <summary>Applies one operation. Children of a session that does not exist, and operations it does not <see cref="Keeps"/>, are ignored.</summary>
    public void Apply(in StorageOperation operation)
    {
        if (!Keeps(operation.Kind))
        {
            return;
        }

        switch (operation.Kind)
        {
            case StorageOperationKind.SetRetained:
                _retained[operation.Topic!] = operation.Message!;
                break;
            case StorageOperationKind.DeleteRetained:
                _retained.Remove(operation.Topic!);
                break;
            case StorageOperationKind.UpsertSession:
                if (_sessions.TryGetValue(operation.ClientId, out var existing))
                {
                    existing.ExpiryInterval = operation.Number;
                    existing.DisconnectedAt = operation.Time;
                }
                else
                {
                    _sessions.Add(operation.ClientId, new SessionData { ExpiryInterval = operation.Number, DisconnectedAt = operation.Time });
                }

                break;
            case StorageOperationKind.DeleteSession:
                _sessions.Remove(operation.ClientId);
                break;
            case StorageOperationKind.SetWill:
                _wills[operation.ClientId] = new StoredWill(operation.ClientId, operation.Message!, operation.Number, operation.Time.GetValueOrDefault(),
                    operation.WillExpiryInterval);
                break;
            case StorageOperationKind.DeleteWill:
                _wills.Remove(operation.ClientId);
                break;
            default:
                if (_sessions.TryGetValue(operation.ClientId, out var session))
                {
                    ApplyToSession(session, operation);
                }

                break;
        }
    }

    /// <summary>A copy of everything, in the order <see cref="IBrokerStore.LoadAsync"/> promises.</summary>
    public StoredState ToState()
    {
        var state = new StoredState();
        state.Retained.AddRange(_retained.Values);
        state.Wills.AddRange(_wills.Values);
        foreach (var (clientId, data) in _sessions)
        {
            var session = new StoredSession(clientId, data.ExpiryInterval, data.DisconnectedAt);
            session.Subscriptions.AddRange(data.Subscriptions.Values);
            session.Queued.AddRange(data.Queued.Values);
            session.Outgoing.AddRange(data.Outgoing.Values);
            session.Outgoing.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
            session.IncomingQos2.AddRange(data.IncomingQos2);
            state.Sessions.Add(session);
        }

        return state;
    }

    /// <summary>Operations that rebuild this model from nothing (the file store's snapshot).</summary>
    public IEnumerable<StorageOperation> ToOperations()
    {
        foreach (var message in _retained.Values)
        {
            yield return StorageOperation.SetRetained(message);
        }

        foreach (var (clientId, data) in _sessions)
        {
            yield return StorageOperation.UpsertSession(clientId, data.ExpiryInterval, data.DisconnectedAt);
            foreach (var subscription in data.Subscriptions.Values)
            {
                yield return StorageOperation.AddSubscription(clientId, subscription.TopicFilter, subscription.Options, subscription.SubscriptionId);
            }

            foreach (var queued in data.Queued.Values)
            {
                yield return StorageOperation.EnqueueMessage(clientId, queued.Sequence, queued.Message, queued.QualityOfService, queued.Retain);
            }

            foreach (var inflight in data.Outgoing.Values)
            {
                yield return StorageOperation.SetOutgoingInflight(clientId, inflight.PacketId, inflight.Sequence, inflight.Message,
                    inflight.QualityOfService, inflight.Retain, inflight.Released);
            }

            foreach (var packetId in data.IncomingQos2)
            {
                yield return StorageOperation.AddIncomingQos2(clientId, packetId);
            }
        }

        foreach (var will in _wills.Values)
        {
            yield return StorageOperation.SetWill(will.ClientId, will.Message, will.DelayInterval, will.DueAt, will.ExpiryInterval);
        }
    }

    private static void ApplyToSession(SessionData session, in StorageOperation operation)
    {
        switch (operation.Kind)
        {
            case StorageOperationKind.AddSubscription:
                session.Subscriptions[operation.Topic!] = new StoredSubscription(operation.Topic!, operation.Options, operation.Number);
                break;
            case StorageOperationKind.RemoveSubscription:
                session.Subscriptions.Remove(operation.Topic!);
                break;
            case StorageOperationKind.EnqueueMessage:
                session.Queued[operation.Sequence] = new StoredDelivery(operation.Sequence, operation.Message!, operation.QualityOfService, operation.Retain);
                break;
            case StorageOperationKind.RemoveQueuedMessage:
                session.Queued.Remove(operation.Sequence);
                break;
            case StorageOperationKind.SetOutgoingInflight:
                session.Outgoing[operation.PacketId] = new StoredInflight(operation.PacketId, operation.Sequence, operation.Message!,
                    operation.QualityOfService, operation.Retain, operation.Released);
                break;
            case StorageOperationKind.RemoveOutgoingInflight:
                session.Outgoing.Remove(operation.PacketId);
                break;
            case StorageOperationKind.AddIncomingQos2:
                session.IncomingQos2.Add(operation.PacketId);
                break;
            case StorageOperationKind.RemoveIncomingQos2:
                session.IncomingQos2.Remove(operation.PacketId);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(operation), operation.Kind, "Unknown storage operation.");
        }
    }

    private sealed class SessionData
    {
        public uint ExpiryInterval { get; set; }

        public DateTimeOffset? DisconnectedAt { get; set; }

        public Dictionary<string, StoredSubscription> Subscriptions { get; } = new(StringComparer.Ordinal);

        public SortedDictionary<long, StoredDelivery> Queued { get; } = [];

        public Dictionary<ushort, StoredInflight> Outgoing { get; } = [];

        public SortedSet<ushort> IncomingQos2 { get; } = [];
    }
}
