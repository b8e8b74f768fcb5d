using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Security;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests.Security;

/// <summary>
/// Issue 18: a client whose authenticator gave its credentials an expiry (<see cref="ClientRights.ExpiresAt"/>, a
/// token's <c>exp</c>) is disconnected by the broker's timer round once it passes: MQTT 5.0 DISCONNECT 0xA0 Maximum
/// connect time (5.0 §3.14.2.1), a 3.1.1 client's connection just closed. Credentials without an expiry never end a
/// connection. The broker is not started: the test runs the timer rounds itself, on a clock it moves.
/// </summary>
public sealed class CredentialsExpiryTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly Rights _authenticator = new();
    private MqttBroker _broker = null!;

    public Task InitializeAsync()
    {
        // The clock jumps by days: a flush under way at a jump must not look stuck.
        _broker = new MqttBroker(new BrokerOptions { StuckClientTimeout = TimeSpan.FromDays(1000) }, time: _time) { Authenticator = _authenticator };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task A_5_0_client_gets_DISCONNECT_Maximum_connect_time_when_its_credentials_expire()
    {
        var expiry = _time.GetUtcNow().AddSeconds(2);
        _authenticator.Grant("expiring-5", new ClientRights([], Superuser: false) { ExpiresAt = expiry });
        await using var client = await PipeClient.ConnectAsync(_broker, "expiring-5", MqttProtocolVersion.V500);
        Assert.Equal(expiry, _broker.FindSession("expiring-5")!.Connection!.CredentialsExpireAt);

        _time.Advance(TimeSpan.FromSeconds(1.9));
        await StillConnectedAsync(client);

        _time.Advance(TimeSpan.FromSeconds(0.1));
        _broker.CheckTimers(_time.GetTimestamp());
        var disconnect = await client.ExpectAsync<DisconnectPacket>();
        Assert.Equal((ReasonCode.MaximumConnectTime, "credentials expired"), (disconnect.ReasonCode, disconnect.Properties?.ReasonString));
        await client.ExpectClosedAsync();
        Assert.Equal(1, _broker.Statistics.ConnectionsClosed(ConnectionCloseReason.NotAuthorized));
    }

    [Fact]
    public async Task A_3_1_1_client_is_closed_without_a_packet_when_its_credentials_expire()
    {
        _authenticator.Grant("expiring-3", new ClientRights([], Superuser: false) { ExpiresAt = _time.GetUtcNow().AddSeconds(2) });
        await using var client = await PipeClient.ConnectAsync(_broker, "expiring-3");

        _time.Advance(TimeSpan.FromSeconds(3));
        _broker.CheckTimers(_time.GetTimestamp());
        Assert.Empty(await client.DrainUntilClosedAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Credentials_without_an_expiry_never_end_the_connection(bool withRights)
    {
        var clientId = $"lasting-{withRights}";
        if (withRights)
        {
            _authenticator.Grant(clientId, new ClientRights(["operators"], Superuser: false));
        }

        await using var client = await PipeClient.ConnectAsync(_broker, clientId, MqttProtocolVersion.V500);
        Assert.Null(_broker.FindSession(clientId)!.Connection!.CredentialsExpireAt);

        _time.Advance(TimeSpan.FromDays(400));
        await StillConnectedAsync(client);
    }

    /// <summary>Runs a timer round, then shows the connection still answers a PINGREQ.</summary>
    private async Task StillConnectedAsync(Testing.MqttTestClient client)
    {
        _broker.CheckTimers(_time.GetTimestamp());
        await client.SendAsync(PingReqPacket.Instance);
        await client.ExpectAsync<PingRespPacket>();
    }

    /// <summary>Accepts every client, with the rights granted to its client id.</summary>
    private sealed class Rights : IConnectAuthenticator
    {
        private readonly Dictionary<string, ClientRights> _granted = [];

        public void Grant(string clientId, ClientRights rights) => _granted[clientId] = rights;

        public ValueTask<ConnectDecision> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult(ConnectDecision.Accept with { Rights = _granted.GetValueOrDefault(request.ClientId) });
    }
}
