using System.Text;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Ownership;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests.Ownership;

/// <summary>
/// The engine's side of a dead node's failover (docs/clustering.md#adoption-of-a-dead-nodes-sessions), with the store the nodes share and
/// the arbiters answered by the test: a connection's will is stored only in a cluster, under its claim, and deleted as the connection ends;
/// a survivor adopts the dead node's sessions no live node owns, publishes the wills that go now and holds the delayed one with its session.
/// </summary>
public sealed class NodeAdoptionTests : IAsyncLifetime
{
    private readonly SharedStore _store = new();
    private readonly Owners _owners = new();
    private StorageWriter? _writer;
    private MqttBroker? _broker;

    private MqttBroker Broker => _broker!;

    public Task InitializeAsync()
    {
        _writer = new StorageWriter(_store, StorageDurability.Strict);
        _broker = new MqttBroker(new BrokerOptions());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _broker!.DisposeAsync();
        await _writer!.DisposeAsync();
    }

    [Fact]
    public async Task Without_clustering_no_will_of_a_connection_is_written()
    {
        Broker.AttachStorage(_writer!, new StoredState());
        Broker.Start();

        await using (var polite = await ConnectWithWillAsync("polite", delay: 0))
        {
            await polite.DisconnectAsync();
        }

        await using (var lost = await ConnectWithWillAsync("lost", delay: 0))
        {
            await lost.DropAsync();
        }

        await _writer!.FlushAsync();
        Assert.DoesNotContain(_store.Written, o => o.Kind is StorageOperationKind.SetConnectionWill or StorageOperationKind.DeleteConnectionWill);
    }

    [Fact]
    public async Task In_a_cluster_a_connections_will_is_stored_under_its_claim_and_deleted_by_a_normal_disconnect()
    {
        StartInCluster();

        await using var client = await ConnectWithWillAsync("testator", delay: 30);
        await _writer!.FlushAsync();
        var stored = Assert.Single(_store.Written, o => o.Kind == StorageOperationKind.SetConnectionWill);
        Assert.Equal(("testator", _owners.Last, 30u), (stored.ClientId, stored.Connection, stored.Number));
        Assert.Equal("wills/testator", stored.Message!.Topic);

        // DISCONNECT 0x00: the will is removed [MQTT-3.1.2-10], from the store too, by the claim it was stored under.
        await client.DisconnectAsync();
        await Poll.UntilAsync(async () =>
        {
            await _writer.FlushAsync();
            return _store.Written.Any(o => o.Kind == StorageOperationKind.DeleteConnectionWill);
        }, PipeClient.Timeout, "the connection's will was not deleted");
        var deleted = Assert.Single(_store.Written, o => o.Kind == StorageOperationKind.DeleteConnectionWill);
        Assert.Equal(("testator", _owners.Last), (deleted.ClientId, deleted.Connection));
    }

    [Fact]
    public async Task A_survivor_adopts_the_sessions_no_live_node_owns_publishes_the_wills_due_now_and_holds_the_delayed_one()
    {
        StartInCluster();
        var offline = new StoredSession("offline", 300, DateTimeOffset.UtcNow);
        offline.Subscriptions.Add(new StoredSubscription("news/#", new SubscriptionOptions(QualityOfService.AtLeastOnce), 0));
        _store.Orphans.Add("offline", offline);
        _store.Orphans.Add("elsewhere", new StoredSession("elsewhere", 300, null));
        _owners.OwnedElsewhere.Add("elsewhere");
        _store.Wills.Add(Will("sudden", delay: 0));
        _store.Wills.Add(Will("offline", delay: 600));
        _store.Wills.Add(Will("elsewhere", delay: 600));
        await using var watcher = await PipeClient.ConnectAsync(Broker, "watcher", MqttProtocolVersion.V500);
        await watcher.SubscribeAsync("wills/#", QualityOfService.AtLeastOnce);

        var adoption = await Broker.AdoptNodeAsync("dead", CancellationToken.None);

        // Its database sessions ended first; the session a live node owns left alone; each will once.
        Assert.Equal(new NodeAdoption(Sessions: 2, Adopted: 1, Failed: 0, Failure: null, Wills: 3, EndedConnections: 1, EndFailure: null), adoption);
        Assert.Equal(["dead"], _store.Ended);
        Assert.Equal("wills/sudden", (await watcher.ExpectPublishAsync()).Topic);
        Assert.Null(Broker.FindSession("elsewhere"));

        // The adopted session is offline here, its subscription in the tree: a message queues for it. Its will waits for its delay.
        Assert.Equal(1, Broker.PendingWillCount);
        Broker.Publish(MqttMessage.Create("news/1", "queued"u8, QualityOfService.AtLeastOnce, retain: false));

        // Its client comes back: the session is present [MQTT-3.2.2-3] with the message, and the held will is cancelled [MQTT-3.1.3-9].
        await using var back = PipeClient.Open(Broker, MqttProtocolVersion.V500);
        var connAck = await back.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500, ClientId = "offline", CleanStart = false,
            Properties = new MqttProperties { SessionExpiryInterval = 300 },
        });
        Assert.True(connAck.SessionPresent);
        Assert.Equal("queued", (await back.ExpectPublishAsync()).PayloadText);
        Assert.Equal(0, Broker.PendingWillCount);
    }

    [Fact]
    public async Task An_adopted_session_whose_expiry_passed_while_its_node_was_dead_is_expired_as_usual()
    {
        StartInCluster();
        _store.Orphans.Add("stale", new StoredSession("stale", 60, DateTimeOffset.UtcNow.AddHours(-1)));
        _store.Orphans.Add("fresh", new StoredSession("fresh", 60, DateTimeOffset.UtcNow));

        Assert.Equal(2, (await Broker.AdoptNodeAsync("dead", CancellationToken.None))!.Adopted);

        // The monitor's next round ends the one offline for longer than its Session Expiry Interval, and deletes it from the store.
        Broker.CheckTimers(Broker.Time.GetTimestamp());
        Assert.Null(Broker.FindSession("stale"));
        Assert.NotNull(Broker.FindSession("fresh"));
        await _writer!.FlushAsync();
        Assert.Contains(_store.Written, o => o.Kind == StorageOperationKind.DeleteSession && o.ClientId == "stale");
    }

    /// <summary>
    /// docs/clustering.md#forward-receipts: a forwarded batch's receipt goes into the commit of what the batch stored on this node, and
    /// only when it stored something: a batch that reached no persistent session here leaves no receipt and waits for no commit.
    /// </summary>
    [Fact]
    public async Task A_forwarded_batchs_receipt_goes_only_into_the_commit_of_a_batch_that_stored_something()
    {
        StartInCluster();
        await using var kept = await PipeClient.ConnectAsync(Broker, "kept", MqttProtocolVersion.V500, cleanStart: false,
            properties: new MqttProperties { SessionExpiryInterval = 300 });
        await kept.SubscribeAsync("stored/#", QualityOfService.ExactlyOnce);
        await _writer!.FlushAsync();

        Assert.Null(ForwardBatch("unstored/1", sequence: 1));
        var committed = ForwardBatch("stored/1", sequence: 2);
        Assert.NotNull(committed);
        await committed.WaitAsync(PipeClient.Timeout);

        var receipt = Assert.Single(_store.Written, o => o.Kind == StorageOperationKind.ForwardReceipt);
        Assert.Equal(("node-a", "node-b", 2L, 2L), (receipt.ClientId, receipt.Topic, receipt.Sequence, receipt.Connection));
        Assert.Contains(_store.Written, o => o.Kind == StorageOperationKind.EnqueueMessage && o.ClientId == "kept" && o.Message!.Topic == "stored/1");

        Task? ForwardBatch(string topic, long sequence)
        {
            Broker.BeginForwardedBatch();
            Broker.RouteForwarded(MqttMessage.Create(topic, "m"u8, QualityOfService.ExactlyOnce, retain: false), toSubscribers: true, sharedGroups: []);
            return Broker.EndForwardedBatch(StorageOperation.ForwardReceipt("node-a", "node-b", sequence, sequence));
        }
    }

    private void StartInCluster()
    {
        Broker.AttachStorage(_writer!, new StoredState(), _store);
        Broker.AttachSessionOwners(_owners);
        Broker.Start();
    }

    private async Task<MqttTestClient> ConnectWithWillAsync(string clientId, uint delay)
    {
        var client = PipeClient.Open(Broker, MqttProtocolVersion.V500);
        await client.ConnectAcceptedAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = clientId,
            Will = new WillMessage
            {
                Topic = "wills/" + clientId, Payload = Encoding.UTF8.GetBytes(clientId), QualityOfService = QualityOfService.AtLeastOnce,
                Properties = new MqttProperties { WillDelayInterval = delay },
            },
        });
        return client;
    }

    private static StoredWill Will(string clientId, uint delay) =>
        new(clientId, MqttMessage.Create("wills/" + clientId, Encoding.UTF8.GetBytes(clientId), QualityOfService.AtLeastOnce, retain: false), delay, default, null);

    /// <summary>The store the nodes share, as the test fills it: the dead node's sessions and its clients' wills; what is written is kept.</summary>
    private sealed class SharedStore : IBrokerStore, ISharedSessionStore
    {
        private readonly Lock _lock = new();
        private readonly List<StorageOperation> _written = [];

        public Dictionary<string, StoredSession> Orphans { get; } = new(StringComparer.Ordinal);

        public List<StoredWill> Wills { get; } = [];

        public List<string> Ended { get; } = [];

        public List<StorageOperation> Written
        {
            get
            {
                lock (_lock)
                {
                    return [.. _written];
                }
            }
        }

        public Task<StoredState> LoadAsync(CancellationToken cancellationToken = default) => Task.FromResult(new StoredState());

        public Task CommitAsync(ReadOnlyMemory<StorageOperation> batch, CancellationToken cancellationToken = default)
        {
            lock (_lock)
            {
                _written.AddRange(batch.Span);
            }

            return Task.CompletedTask;
        }

        public void ActForNode(string node)
        {
        }

        public Task<StoredSession?> TakeSessionAsync(string clientId, string? fromNode, CancellationToken cancellationToken)
        {
            // Under the lock: an adoption takes several sessions at once (a plain Dictionary removed from on two threads lost one).
            lock (_lock)
            {
                return Task.FromResult(Orphans.Remove(clientId, out var session) ? session : null);
            }
        }

        public Task<List<string>> ListSessionsAsync(string node, CancellationToken cancellationToken) => Task.FromResult(Orphans.Keys.ToList());

        public Task<List<StoredWill>> TakeConnectionWillsAsync(string node, CancellationToken cancellationToken)
        {
            List<StoredWill> taken = [.. Wills];
            Wills.Clear();
            return Task.FromResult(taken);
        }

        public Task<int> EndConnectionsAsync(string node, CancellationToken cancellationToken)
        {
            Ended.Add(node);
            return Task.FromResult(1);
        }

        // No calls are forwarded in these tests: none has a receipt.
        public Task<long[]> FenceForwardsAsync(string fromNode, string toNode, long[] sequences, CancellationToken cancellationToken) =>
            Task.FromResult<long[]>([]);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>The arbiters as the test scripts them: every claim granted, but adoptions of client ids a live node owns.</summary>
    private sealed class Owners : ISessionOwners
    {
        private long _claims;

        public HashSet<string> OwnedElsewhere { get; } = new(StringComparer.Ordinal);

        public long Last => Interlocked.Read(ref _claims);

        public Task<SessionClaim> ClaimAsync(string clientId, bool cleanStart, CancellationToken cancellationToken) =>
            Task.FromResult(new SessionClaim(Interlocked.Increment(ref _claims), PreviousOwner.ThisNode));

        public Task<long> ClaimOrphanAsync(string clientId, CancellationToken cancellationToken) =>
            Task.FromResult(OwnedElsewhere.Contains(clientId) ? 0 : Interlocked.Increment(ref _claims));

        public bool Holds(string clientId, long claim) => claim == Last;

        public void Released(string clientId, long claim)
        {
        }
    }
}
