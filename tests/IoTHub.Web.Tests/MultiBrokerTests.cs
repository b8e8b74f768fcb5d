using IoTHub.Broker;
using IoTHub.Mqtt;
using IoTHub.Testing;
using IoTHub.Web.Mqtt;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests;

/// <summary>A host with a second broker, "lab", on its own port.</summary>
public sealed class TwoBrokerHost() : KestrelHost(new Dictionary<string, string> { ["Mqtt:Brokers:lab:Port"] = "0" });

/// <summary>Several isolated brokers in one server, like virtual hosts.</summary>
public sealed class MultiBrokerTests(TwoBrokerHost host) : IClassFixture<TwoBrokerHost>
{
    [Fact]
    public async Task Clients_of_one_broker_never_see_anything_of_another()
    {
        Assert.Equal(["default", "lab"], host.MqttEndpoints.Keys.Order());
        await using var onDefault = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoints["default"], "same-id");
        await using var onLab = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoints["lab"], "same-id");
        await onDefault.SubscribeAsync("#");
        await onLab.SubscribeAsync("#");

        await onDefault.PublishAndWaitAsync("shared/topic", "from default", retain: true);
        await onLab.PublishAndWaitAsync("shared/topic", "from lab");

        // Each sees only its own broker's message; the same client id lives twice without a takeover.
        Assert.Equal("from default", (await onDefault.ExpectPublishAsync()).PayloadText);
        Assert.Equal("from lab", (await onLab.ExpectPublishAsync()).PayloadText);
        var registry = host.Services.GetRequiredService<BrokerRegistry>();
        Assert.NotNull(registry["default"].Retained.Get("shared/topic"));
        Assert.Null(registry["lab"].Retained.Get("shared/topic"));
        Assert.True(registry["default"].FindSession("same-id")!.IsConnected);
        Assert.True(registry["lab"].FindSession("same-id")!.IsConnected);
    }
}

/// <summary>One broker stops and drains on its own while the other keeps serving.</summary>
public sealed class BrokerStopTests : IDisposable
{
    private readonly TwoBrokerHost _host = new();

    [Fact]
    public async Task A_stopped_broker_refuses_connects_while_the_other_serves()
    {
        var registry = _host.Services.GetRequiredService<BrokerRegistry>();
        await using (var client = await MqttTestClient.ConnectTcpAsync(_host.MqttEndpoints["lab"], "lab-client", MqttProtocolVersion.V500))
        {
            await registry["lab"].StopAsync(TimeSpan.FromSeconds(2));
            var last = await client.DrainUntilClosedAsync();
            Assert.Equal(ReasonCode.ServerShuttingDown, Assert.IsType<DisconnectPacket>(Assert.Single(last).Control).ReasonCode);
        }

        Assert.Equal(BrokerState.Stopped, registry["lab"].State);
        await using var refused = await MqttTestClient.OpenTcpAsync(_host.MqttEndpoints["lab"]);
        var connAck = await refused.ConnectRawAsync(new ConnectPacket { ClientId = "late" });
        Assert.Equal(ConnectReturnCode.ServerUnavailable, ConnectReturnCodes.FromReasonCode(connAck.ReasonCode));

        await using var served = await MqttTestClient.ConnectTcpAsync(_host.MqttEndpoints["default"], "still-served");
        await served.SubscribeAsync("ok");
        await served.PublishAndWaitAsync("ok", "yes");
        Assert.Equal("yes", (await served.ExpectPublishAsync()).PayloadText);
    }

    public void Dispose() => _host.Dispose();
}
