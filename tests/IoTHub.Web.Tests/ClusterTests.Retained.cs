using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using MQTTnet.Protocol;

namespace IoTHub.Web.Tests;

/// <summary>Retained messages across nodes (docs/clustering.md): every node keeps each topic's retained message.</summary>
public sealed partial class ClusterTests
{
    // A retained message published on one node is kept by every node, those without subscribers too, so that a new subscription on
    // any node gets it ([MQTT-3.3.1-6]; 5.0 §3.3.1.3); an empty retained message deletes it everywhere, and one kept through the
    // admin API reaches the others as well. The nodes share one PostgreSQL store, which the publishing node writes.
    [Fact]
    public async Task ARetainedMessageIsKeptByEveryNodeAndDeletedEverywhere()
    {
        var nodes = await StartClusterAsync(sharedStore: true);
        await UntilEveryNodeKnowsTheOthersAsync(nodes);
        await using var onA = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "retain-a");
        await onA.PublishAsync("site/door", "open", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        await UntilRetainedAsync(nodes[1].Api, "site/door", "open");
        await UntilRetainedAsync(nodes[2].Api, "site/door", "open");

        await using (var onC = await ClusterClient.ConnectAsync(nodes[2].Mqtt, "retain-c"))
        {
            await onC.SubscribeAsync("site/#");
            await onC.UntilAsync("open");
            var received = Assert.Single(onC.Received);
            Assert.Equal("site/door", received.Topic);
            Assert.True(received.Retain);
        }

        await using var onB = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "retain-b");
        await onB.PublishAsync("site/door", string.Empty, MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        await UntilRetainedAsync(nodes[0].Api, "site/door", null);
        await UntilRetainedAsync(nodes[2].Api, "site/door", null);

        var put = await nodes[2].Api.PutAsJsonAsync("/api/v1/retained/site/window", new { payload = "closed", qos = 1 });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        await UntilRetainedAsync(nodes[0].Api, "site/window", "closed");
        await UntilRetainedAsync(nodes[1].Api, "site/window", "closed");
    }

    /// <summary>Retained messages go to the nodes a node has heard from (their first filter batch or heartbeat, within a second of joining).</summary>
    private static async Task UntilEveryNodeKnowsTheOthersAsync(List<(HttpClient Api, System.Net.IPEndPoint Mqtt)> nodes)
    {
        foreach (var (api, _) in nodes)
        {
            await Poll.UntilAsync(async () => (await ClusterAsync(api)).All(n => n.Filters is not null), DeathBound,
                "a node did not hear from every other node");
        }
    }

    /// <summary>Waits until the node's admin API shows <paramref name="payload"/> as the topic's retained message (null: none).</summary>
    private static Task UntilRetainedAsync(HttpClient api, string topic, string? payload) =>
        Poll.UntilAsync(async () =>
        {
            using var response = await api.GetAsync("/api/v1/retained/" + topic);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return payload is null;
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("payloadText").GetString() == payload;
        }, DeathBound, $"the retained message of {topic} did not become {payload ?? "none"}");
}
