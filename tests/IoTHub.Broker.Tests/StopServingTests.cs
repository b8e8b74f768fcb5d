using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>A running broker that stops serving (a cluster node that lost its membership store) and serves again.</summary>
public sealed class StopServingTests : IAsyncLifetime
{
    private readonly MqttBroker _broker = TestBroker.Start();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task Clients_are_closed_with_0x9C_and_refused_with_0x88_until_it_serves_again_and_no_will_fires()
    {
        await using var v5 = await PipeClient.ConnectAsync(_broker, "v5", MqttProtocolVersion.V500);
        await using var v311 = PipeClient.Open(_broker, MqttProtocolVersion.V311);
        await v311.ConnectAcceptedAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V311,
            ClientId = "v311",
            CleanStart = true,
            Will = new WillMessage { Topic = "wills/v311", Payload = [1] },
        });

        _broker.StopServing("the cluster's membership store has not answered");

        // [MQTT-3.14.2-1]: 0x9C Use another server is a DISCONNECT reason code, 0x88 is not; 3.1.1 has no server DISCONNECT.
        var disconnect = Assert.IsType<DisconnectPacket>(Assert.Single(await v5.DrainUntilClosedAsync()).Control);
        Assert.Equal(ReasonCode.UseAnotherServer, disconnect.ReasonCode);
        Assert.Equal("the cluster's membership store has not answered", disconnect.Properties?.ReasonString);
        Assert.Empty(await v311.DrainUntilClosedAsync());
        Assert.Null(_broker.Retained.Get("wills/v311"));
        Assert.Equal(0, _broker.PendingWillCount);

        foreach (var version in new[] { MqttProtocolVersion.V500, MqttProtocolVersion.V311 })
        {
            await using var refused = PipeClient.Open(_broker, version);
            var connAck = await refused.ConnectRawAsync(new ConnectPacket { ProtocolVersion = version, ClientId = "late", CleanStart = true });
            // 5.0 CONNACK 0x88 Server unavailable; 3.1.1 return code 3 Server unavailable.
            Assert.Equal(ReasonCode.ServerUnavailable, connAck.ReasonCode);
        }

        _broker.ResumeServing();

        await using var back = await PipeClient.ConnectAsync(_broker, "back", MqttProtocolVersion.V500);
        Assert.Equal(BrokerState.Running, _broker.State);
    }
}
