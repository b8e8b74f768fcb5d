using System.Collections.Concurrent;
using System.Text;
using IoTHub.Broker.Security;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// CONNECT passes an awaitable authentication stage (issue 14): an authenticator may answer later without holding
/// up any other connection; nothing the client sent after CONNECT is handled before the answer; a refusal, a failure
/// and a stage that takes too long each get their reason code.
/// </summary>
public sealed class AuthenticationStageTests : IAsyncLifetime
{
    private readonly ScriptedAuthenticator _authenticator = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private MqttBroker _broker = null!;

    public Task InitializeAsync()
    {
        var options = new BrokerOptions { MonitorInterval = TimeSpan.FromMilliseconds(50), AuthenticationTimeout = TimeSpan.FromSeconds(5) };
        _broker = new MqttBroker(options, time: _time) { Authenticator = _authenticator };
        _broker.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task A_slow_decision_holds_up_only_its_own_connection()
    {
        var decision = _authenticator.Defer("slow");
        await using var slow = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        await slow.SendAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "slow", UserName = "device", Password = "secret"u8.ToArray() });

        // Sent before the answer: handled after it, in order.
        await slow.SendAsync(new SubscribePacket { PacketId = 7, Subscriptions = [new("slow/#", new(QualityOfService.AtMostOnce))] });
        var request = await _authenticator.Asked("slow").WaitAsync(PipeClient.Timeout);
        Assert.Equal(("device", "secret", "pipe"), (request.UserName, Encoding.UTF8.GetString(request.Password!), request.Connection.Listener));

        // Meanwhile other clients connect, subscribe and publish.
        await using var other = await PipeClient.ConnectAsync(_broker, "other");
        await other.SubscribeAsync("other/t");
        await other.PublishAsync("other/t", "served");
        Assert.Equal("served", (await other.ExpectPublishAsync()).PayloadText);
        Assert.False(slow.TryPeek());
        Assert.False(_broker.FindSession("slow") is not null);

        decision.SetResult(ConnectDecision.Accept);
        Assert.Equal(ReasonCode.Success, (await slow.ExpectAsync<ConnAckPacket>()).ReasonCode);
        Assert.Equal(7, (await slow.ExpectAsync<SubAckPacket>()).PacketId);
        await other.PublishAsync("slow/t", "now subscribed");
        Assert.Equal("now subscribed", (await slow.ExpectPublishAsync()).PayloadText);
    }

    // A refusal is counted as an authentication failure; 3.1.1 clients get the mapped return code; the will never goes.
    [Theory]
    [InlineData(MqttProtocolVersion.V500, false)]
    [InlineData(MqttProtocolVersion.V311, false)]
    [InlineData(MqttProtocolVersion.V500, true)]
    public async Task A_refusal_gets_its_reason_code_and_no_will(MqttProtocolVersion version, bool later)
    {
        var refusal = ConnectDecision.Refuse(ReasonCode.BadUserNameOrPassword, "wrong password");
        if (later)
        {
            _authenticator.Defer("intruder").SetResult(refusal);
        }
        else
        {
            _authenticator.Answer("intruder", refusal);
        }

        await using var watcher = await PipeClient.ConnectAsync(_broker, "watcher");
        await watcher.SubscribeAsync("wills/#");
        await using var intruder = PipeClient.Open(_broker, version);
        var connAck = await intruder.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = "intruder",
            Will = new WillMessage { Topic = "wills/intruder", Payload = "gone"u8.ToArray() },
        });

        Assert.Equal(ReasonCode.BadUserNameOrPassword, connAck.ReasonCode);
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal("wrong password", connAck.Properties!.ReasonString);
        }

        await intruder.ExpectClosedAsync();
        Assert.Equal(1, _broker.Statistics.AuthenticationFailures);
        await watcher.PublishAsync("wills/marker", "after");
        Assert.Equal("wills/marker", (await watcher.ExpectPublishAsync()).Topic);
    }

    [Fact]
    public async Task A_decision_that_takes_longer_than_the_timeout_refuses_the_client()
    {
        _authenticator.Defer("waiting");
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        await client.SendAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "waiting" });
        await _authenticator.Asked("waiting").WaitAsync(PipeClient.Timeout);

        _time.Advance(TimeSpan.FromSeconds(6));

        var connAck = await client.ExpectAsync<ConnAckPacket>();
        Assert.Equal(ReasonCode.ServerUnavailable, connAck.ReasonCode);
        await client.ExpectClosedAsync();
        Assert.Equal(0, _broker.Statistics.AuthenticationFailures);
    }

    // A stopping broker closes a connection whose decision is still to come at once: it does not wait out the timeout.
    [Fact]
    public async Task A_stopping_broker_does_not_wait_for_a_pending_decision()
    {
        _authenticator.Defer("waiting");
        await using var client = PipeClient.Open(_broker, MqttProtocolVersion.V500);
        await client.SendAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "waiting" });
        await _authenticator.Asked("waiting").WaitAsync(PipeClient.Timeout);

        var stopping = _broker.StopAsync(TimeSpan.Zero);

        await client.ExpectClosedAsync();

        // The stop polls on the broker's clock, which only the test moves.
        await Poll.UntilAsync(() =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(20));
            return stopping.IsCompleted;
        });
        Assert.Equal(0, _broker.ConnectionCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_authenticator_that_fails_refuses_the_client_as_unavailable(bool later)
    {
        var failure = new InvalidOperationException("directory unreachable");
        if (later)
        {
            _authenticator.Defer("unlucky").SetException(failure);
        }
        else
        {
            _authenticator.Throw("unlucky", failure);
        }

        await using var client = PipeClient.Open(_broker);
        var connAck = await client.ConnectRawAsync(new ConnectPacket { ClientId = "unlucky" });

        // 3.1.1: Server unavailable (0x03).
        Assert.Equal(ConnectReturnCode.ServerUnavailable, ConnectReturnCodes.FromReasonCode(connAck.ReasonCode));
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task The_authenticator_sees_the_client_id_the_broker_assigned()
    {
        await using var client = await PipeClient.ConnectAsync(_broker, string.Empty, MqttProtocolVersion.V500);
        var assigned = client.LastConnAck!.Properties!.AssignedClientIdentifier!;
        Assert.Equal(assigned, (await _authenticator.Asked(assigned).WaitAsync(PipeClient.Timeout)).ClientId);
    }

    /// <summary>
    /// Accepts at once unless told otherwise per client id: answer later (a decision the test completes), refuse, or throw.
    /// Records every request.
    /// </summary>
    private sealed class ScriptedAuthenticator : IConnectAuthenticator
    {
        private readonly ConcurrentDictionary<string, Func<ValueTask<ConnectDecision>>> _scripts = new();
        private readonly ConcurrentDictionary<string, TaskCompletionSource<ConnectRequest>> _asked = new();

        public TaskCompletionSource<ConnectDecision> Defer(string clientId)
        {
            var decision = new TaskCompletionSource<ConnectDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
            _scripts[clientId] = () => new ValueTask<ConnectDecision>(decision.Task);
            return decision;
        }

        public void Answer(string clientId, ConnectDecision decision) => _scripts[clientId] = () => ValueTask.FromResult(decision);

        public void Throw(string clientId, Exception exception) => _scripts[clientId] = () => throw exception;

        public Task<ConnectRequest> Asked(string clientId) => AskedSource(clientId).Task;

        public ValueTask<ConnectDecision> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken)
        {
            AskedSource(request.ClientId).TrySetResult(request);
            return _scripts.TryGetValue(request.ClientId, out var script) ? script() : ValueTask.FromResult(ConnectDecision.Accept);
        }

        private TaskCompletionSource<ConnectRequest> AskedSource(string clientId) =>
            _asked.GetOrAdd(clientId, static _ => new TaskCompletionSource<ConnectRequest>(TaskCreationOptions.RunContinuationsAsynchronously));
    }
}
