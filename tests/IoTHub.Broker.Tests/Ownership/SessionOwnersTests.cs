using IoTHub.Broker.Ownership;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests.Ownership;

/// <summary>
/// The engine's side of one owner per client id across a cluster, through its seam (<see cref="ISessionOwners"/>, answered here by the
/// test as the cluster would): a claim that fails or is lost refuses the CONNECT as Server unavailable, and a session given up to
/// another node closes its connection with DISCONNECT 0x8E and leaves its stored state for that node.
/// </summary>
public sealed class SessionOwnersTests : IAsyncLifetime
{
    private readonly StorageModel _stored = new();
    private readonly ScriptedOwners _owners = new();
    private MemoryBrokerStore? _store;
    private StorageWriter? _writer;
    private MqttBroker? _broker;

    private MqttBroker Broker => _broker!;

    public async Task InitializeAsync()
    {
        _store = new MemoryBrokerStore(_stored);
        _writer = new StorageWriter(_store, StorageDurability.Strict);
        _broker = new MqttBroker(new BrokerOptions());
        _broker.AttachStorage(_writer, await _store.LoadAsync());
        _broker.AttachSessionOwners(_owners);
        _broker.Start();
    }

    public async Task DisposeAsync()
    {
        await _broker!.DisposeAsync();
        await _writer!.DisposeAsync();
        await _store!.DisposeAsync();
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task A_claim_that_fails_refuses_the_connect_as_server_unavailable(MqttProtocolVersion version)
    {
        _owners.Failure = new SessionClaimException("its owner, node 10.0.0.1:11111, did not give it up");
        await using var client = PipeClient.Open(Broker, version);

        var connAck = await client.ConnectRawAsync(new ConnectPacket { ProtocolVersion = version, ClientId = "dev", CleanStart = false });

        // 5.0: 0x88 with the reason; 3.1.1: return code 3 [MQTT-3.2.2-5]: not accepted, and the connection closes.
        Assert.Equal(ConnectReturnCode.ServerUnavailable, ConnectReturnCodes.FromReasonCode(connAck.ReasonCode));
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Contains("did not give it up", connAck.Properties!.ReasonString, StringComparison.Ordinal);
        }

        await client.ExpectClosedAsync();
        Assert.Equal(0, Broker.SessionCount);
    }

    [Fact]
    public async Task A_connect_whose_claim_another_node_took_meanwhile_is_refused()
    {
        _owners.LoseClaims = true;
        await using var client = PipeClient.Open(Broker, MqttProtocolVersion.V500);

        var connAck = await client.ConnectRawAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "dev" });

        Assert.Equal(ReasonCode.ServerUnavailable, connAck.ReasonCode);
        Assert.Equal(0, Broker.SessionCount);
    }

    [Fact]
    public async Task A_session_given_up_closes_its_connection_with_0x8E_and_leaves_its_stored_state_for_the_other_node()
    {
        var client = await PipeClient.ConnectAsync(Broker, "dev", MqttProtocolVersion.V500, cleanStart: false,
            properties: new MqttProperties { SessionExpiryInterval = 300 });
        await using var _ = client;
        await client.SubscribeAsync("commands/#", QualityOfService.AtLeastOnce);

        await Broker.GiveUpSessionAsync("dev", continues: true);

        // 5.0 §3.14.2.1: Session taken over; the session leaves this node, its subscription with it.
        Assert.Equal(ReasonCode.SessionTakenOver, (await client.ExpectAsync<DisconnectPacket>()).ReasonCode);
        Assert.Null(Broker.FindSession("dev"));
        Assert.Equal(0, Broker.SubscriptionCount);

        // Committed before the give-up answered, and not deleted: the node that claimed the client id reads it all.
        StoredSession stored;
        lock (_stored)
        {
            stored = Assert.Single(_stored.ToState().Sessions);
        }

        Assert.Equal("dev", stored.ClientId);
        Assert.Equal("commands/#", Assert.Single(stored.Subscriptions).TopicFilter);
        Assert.NotNull(stored.DisconnectedAt);
    }

    /// <summary>The cluster's side of the seam as a test scripts it: claims granted (no previous owner), failed, or lost before they attach.</summary>
    private sealed class ScriptedOwners : ISessionOwners
    {
        private long _claims;

        public SessionClaimException? Failure { get; set; }

        public bool LoseClaims { get; set; }

        public Task<SessionClaim> ClaimAsync(string clientId, bool cleanStart, CancellationToken cancellationToken) =>
            Failure is { } failure ? Task.FromException<SessionClaim>(failure) : Task.FromResult(new SessionClaim(++_claims, PreviousOwner.None));

        public Task<long> ClaimOrphanAsync(string clientId, CancellationToken cancellationToken) => Task.FromResult(++_claims);

        public bool Holds(string clientId, long claim) => !LoseClaims && claim == _claims;

        public void Released(string clientId, long claim)
        {
        }
    }
}
