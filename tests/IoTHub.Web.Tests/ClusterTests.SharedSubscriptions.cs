using System.Globalization;
using IoTHub.Testing;
using MQTTnet.Protocol;

namespace IoTHub.Web.Tests;

/// <summary>Shared subscriptions across nodes (docs/clustering.md): a share group gets each message once in the whole cluster.</summary>
public sealed partial class ClusterTests
{
    private const int SharedMessages = 60;

    // 5.0 §4.8.2: each message of a shared subscription goes to one member of the group. With a member on each of three nodes and
    // the publisher on the first, every message reaches exactly one of the three, each member gets some (the publishing node picks
    // among the nodes with members), and an ordinary subscriber of the same topics still gets every message.
    [Fact]
    public async Task AShareGroupWithMembersOnThreeNodesGetsEachMessageOnceAcrossTheCluster()
    {
        var nodes = await StartClusterAsync(sharedStore: false);
        var ids = await IdsAsync(nodes);

        var members = new List<ClusterClient>();
        for (var i = 0; i < 3; i++)
        {
            var member = await ClusterClient.ConnectAsync(nodes[i].Mqtt, "worker-" + i.ToString(CultureInfo.InvariantCulture));
            await member.SubscribeAsync("$share/workers/jobs/#");
            members.Add(member);
        }

        await using var watcher = await ClusterClient.ConnectAsync(nodes[1].Mqtt, "watcher");
        await watcher.SubscribeAsync("jobs/#");
        await using var publisher = await ClusterClient.ConnectAsync(nodes[0].Mqtt, "publisher");

        // B routes the group and the watcher's filter, C the group: two entries and one in A's replica.
        await UntilFiltersAsync(nodes[0].Api, ids[1], 2);
        await UntilFiltersAsync(nodes[0].Api, ids[2], 1);
        try
        {
            var sent = Enumerable.Range(0, SharedMessages).Select(i => "job-" + i.ToString(CultureInfo.InvariantCulture)).ToList();
            foreach (var payload in sent)
            {
                await publisher.PublishAsync("jobs/" + payload, payload, MqttQualityOfServiceLevel.AtLeastOnce);
            }

            await Poll.UntilAsync(() => Task.FromResult(watcher.Received.Count >= SharedMessages && members.Sum(m => m.Received.Count) >= SharedMessages),
                MqttTestClient.Timeout, "the watcher or the group did not get every message");

            Assert.Equal(sent, watcher.Payloads);
            var got = members.SelectMany(m => m.Payloads).ToList();
            Assert.Equal(sent.Order(StringComparer.Ordinal), got.Order(StringComparer.Ordinal));
            output.WriteLine($"the group's members got {string.Join(", ", members.Select(m => m.Received.Count))} of {SharedMessages}");

            // Picked at random among the three nodes: a member left out of 60 messages has a chance of (2/3)^60, about 3e-11.
            Assert.All(members, m => Assert.NotEmpty(m.Received));

            // The cluster's meter: B took one forward per message (the watcher's and, when its turn, the group's together), C one per
            // message whose turn it had; A forwarded both, and nothing was dropped or lost.
            var toC = members[2].Received.Count;
            await Poll.UntilAsync(async () => await ClusterCounterAsync(nodes[0].Api, "iothub_cluster_forwarded_total") == SharedMessages + toC,
                MqttTestClient.Timeout, "the first node's forwarded count did not reach the messages the others took");
            Assert.Equal(SharedMessages, await ClusterCounterAsync(nodes[1].Api, "iothub_cluster_received_total"));
            Assert.Equal(toC, await ClusterCounterAsync(nodes[2].Api, "iothub_cluster_received_total"));
            Assert.Equal(0, await ClusterCounterAsync(nodes[0].Api, "iothub_cluster_forward_dropped_total"));
            Assert.Equal(0, await ClusterCounterAsync(nodes[0].Api, "iothub_cluster_forward_lost_total"));
            Assert.Equal(0, await ClusterCounterAsync(nodes[0].Api, "iothub_cluster_forward_queued"));
        }
        finally
        {
            foreach (var member in members)
            {
                await member.DisposeAsync();
            }
        }
    }

    /// <summary>A series of the cluster's meter on a node's /metrics, whatever its labels; fails when the node exports none.</summary>
    private static async Task<double> ClusterCounterAsync(HttpClient api, string name)
    {
        var series = (await MetricsScrape.ReadAsync(api)).Where(s => s.Key == name || s.Key.StartsWith(name + "{", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(series);
        return series.Sum(s => s.Value);
    }
}
