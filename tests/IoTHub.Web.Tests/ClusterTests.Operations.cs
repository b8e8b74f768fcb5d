using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Mqtt;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Web.Tests;

/// <summary>Issue 20's operations items on three real processes: drain for rolling restarts, the split brain guard, the node label, the nodes on the dashboard.</summary>
public sealed partial class ClusterTests
{
    [Fact]
    public async Task ADrainedNodeIsNotReadyRefusesClientsSends0x8BAndLeavesWhileItsClientsWorkOnElsewhere()
    {
        var nodes = await StartClusterAsync(sharedStore: false);
        var ids = await IdsAsync(nodes);

        await using var publisher = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "publisher");
        var mover = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "mover");
        var moved = new TaskCompletionSource<MqttClientDisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        mover.Client.DisconnectedAsync += e =>
        {
            moved.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };
        await using var old = await MqttTestClient.ConnectTcpAsync(nodes[2].Mqtt, "old-device", MqttProtocolVersion.V311);
        await mover.SubscribeAsync("plant/+/temp");
        await UntilFiltersAsync(nodes[0].Api, ids[2], 1);
        await publisher.PublishAsync("plant/line1/temp", "before", MqttQualityOfServiceLevel.AtLeastOnce);
        await mover.UntilAsync("before");
        Assert.Equal(HttpStatusCode.OK, await ReadinessAsync(nodes[2].Api));

        // Not without a token (the admin role only, like every change).
        using var anonymous = new HttpClient { BaseAddress = nodes[2].Api.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/api/v1/cluster/drain", null)).StatusCode);
        var drain = await nodes[2].Api.PostAsync("/api/v1/cluster/drain", null);
        Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
        Assert.Equal(ids[2], (await drain.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("node").GetString());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadinessAsync(nodes[2].Api));

        // 5.0: DISCONNECT 0x8B Server shutting down [MQTT-3.14.2-1]; 3.1.1 has no server DISCONNECT: the connection is just closed.
        Assert.Equal(MqttClientDisconnectReason.ServerShuttingDown, await moved.Task.WaitAsync(HostProcess.Timeout));
        Assert.Empty(await old.DrainUntilClosedAsync());

        // Refused while it drains: CONNACK 0x88 Server unavailable (5.0 has no CONNACK "shutting down", [MQTT-3.2.2-8]), 3.1.1 return code 3.
        foreach (var version in new[] { MqttProtocolVersion.V500, MqttProtocolVersion.V311 })
        {
            await using var latecomer = await MqttTestClient.OpenTcpAsync(nodes[2].Mqtt, version);
            var connAck = await latecomer.ConnectRawAsync(new ConnectPacket { ProtocolVersion = version, ClientId = "latecomer", CleanStart = true });
            Assert.Equal(ReasonCode.ServerUnavailable, connAck.ReasonCode);
        }

        // It leaves the membership cleanly: dead for the others, its routes purged; its own process keeps running, not ready.
        await UntilDeadAsync(ids[2], nodes[0].Api, nodes[1].Api);
        await UntilFiltersAsync(nodes[0].Api, ids[2], null);
        Assert.False(_hosts[2].HasExited);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadinessAsync(nodes[2].Api));

        // The client moves to another node and works on: cross-node routing delivers to it there.
        await mover.DisposeAsync();
        await using var moverOnB = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "mover");
        await moverOnB.SubscribeAsync("plant/+/temp");
        await UntilFiltersAsync(nodes[0].Api, ids[1], 1);
        await publisher.PublishAsync("plant/line1/temp", "after", MqttQualityOfServiceLevel.ExactlyOnce);
        await moverOnB.UntilAsync("after");
        Assert.Equal(["after"], moverOnB.Payloads);

        // The drained process then stops as it would in a rolling restart: SIGTERM finds the drain done, exit 0.
        _hosts[2].Terminate();
        Assert.Equal(0, await _hosts[2].WaitForExitAsync());

        // SIGTERM drains the same way: B's client gets 0x8B and reconnects to A; B ends dead.
        var fromB = new TaskCompletionSource<MqttClientDisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        moverOnB.Client.DisconnectedAsync += e =>
        {
            fromB.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };
        _hosts[1].Terminate();
        Assert.Equal(MqttClientDisconnectReason.ServerShuttingDown, await fromB.Task.WaitAsync(HostProcess.Timeout));
        Assert.Equal(0, await _hosts[1].WaitForExitAsync());
        await UntilDeadAsync(ids[1], nodes[0].Api);
        await using var moverOnA = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "mover");
        await moverOnA.SubscribeAsync("plant/+/temp");
        await publisher.PublishAsync("plant/line1/temp", "on-a", MqttQualityOfServiceLevel.AtLeastOnce);
        await moverOnA.UntilAsync("on-a");
    }

    private static async Task<HttpStatusCode> ReadinessAsync(HttpClient api)
    {
        using var response = await api.GetAsync("/health/ready");
        return response.StatusCode;
    }
}
