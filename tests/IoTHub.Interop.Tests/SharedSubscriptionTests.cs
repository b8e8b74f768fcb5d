using System.Text;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests;

/// <summary>
/// Shared subscriptions (MQTT 5.0 §4.8.2) with three MQTTnet 5.0 members on $share/g/jobs/# and 10 000
/// messages from one MQTTnet publisher, QoS 0 and 1 alternating: each message goes to exactly one member
/// of the group, picked by Mqtt:SharedSubscriptionStrategy (a host per strategy). A member that drops
/// mid-stream at QoS 1 loses nothing: what it had not acknowledged goes to the others (§4.8.2: "If the
/// Client's connection closes, the Server can send the message to another Client in the group").
/// </summary>
public sealed class SharedSubscriptionTests
{
    private const int Total = 10_000;
    private const string Filter = "$share/g/jobs/#";
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Random")]
    [InlineData("Sticky")]
    [InlineData("HashClientId")]
    public async Task Ten_thousand_messages_are_shared_out_once_each_according_to_the_strategy(string strategy)
    {
        using var host = NewHost(strategy);
        var members = await ConnectMembersAsync(host, strategy);
        try
        {
            await using (var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, $"jobs-publisher-{strategy}"))
            {
                await PublishAsync(publisher, "p", Total);
            }

            await Poll.UntilAsync(() => members.Sum(m => m.Count) >= Total, DeliveryTimeout);
            var counts = members.Select(m => m.Count).ToArray();
            AssertEachOnce(members, Enumerable.Range(0, Total).Select(i => $"p-{i}"));

            var summary = $"{strategy}: {string.Join(" / ", counts)}";
            switch (strategy)
            {
                case "RoundRobin":
                    // Each member in turn: a third each, give or take one.
                    Assert.All(counts, count => Assert.InRange(count, (Total / 3) - 1, (Total / 3) + 1));
                    break;
                case "Random":
                    // Binomial(10 000, 1/3): standard deviation 47; ±500 is more than 10 of them.
                    Assert.All(counts, count => Assert.InRange(count, (Total / 3) - 500, (Total / 3) + 500));
                    break;
                case "Sticky":
                    Assert.True(counts.Count(c => c == Total) == 1 && counts.Count(c => c == 0) == 2, summary);
                    break;
                case "HashClientId":
                    // One publisher: one member gets all. Further publishers each stick to one member too.
                    Assert.True(counts.Count(c => c == Total) == 1 && counts.Count(c => c == 0) == 2, summary);
                    for (var k = 0; k < 4; k++)
                    {
                        await using var other = await MqttNetClient.ConnectAsync(host, Protocol.V500, $"jobs-publisher-{strategy}-{k}");
                        await PublishAsync(other, $"o{k}", 50);
                    }

                    await Poll.UntilAsync(() => members.Sum(m => m.Count) >= Total + (4 * 50), DeliveryTimeout);
                    for (var k = 0; k < 4; k++)
                    {
                        var prefix = $"o{k}-";
                        var holders = members.Where(m => m.Messages.Any(message => message.Payload.StartsWith(prefix, StringComparison.Ordinal))).ToList();
                        var holder = Assert.Single(holders);
                        Assert.Equal(50, holder.Messages.Count(message => message.Payload.StartsWith(prefix, StringComparison.Ordinal)));
                    }

                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(strategy), strategy, null);
            }
        }
        finally
        {
            foreach (var member in members)
            {
                await member.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Round robin, QoS 1 only. Member C never acknowledges (as if its application hung) and its connection
    /// is cut (MQTTnet disposed without DISCONNECT) while the publisher is still publishing. A and B then
    /// hold every one of the 10 000 messages exactly once, C's unacknowledged ones included: 5.0 §4.8.2 lets
    /// the server send a QoS 1 message to another member "as soon as it loses its connection to the first
    /// Client", and the session (expiry 0) ends with the connection, when it SHOULD; QoS 1 is "at least once"
    /// (§4.3.2), and the group as a whole is owed every message. [MQTT-4.8.2-3]: each at the granted QoS.
    /// </summary>
    [Fact]
    public async Task A_member_dropping_mid_stream_at_QoS_1_loses_no_message_and_duplicates_none()
    {
        using var host = NewHost("RoundRobin");
        await using var a = await MqttNetClient.ConnectAsync(host, Protocol.V500, "drop-member-a");
        await using var b = await MqttNetClient.ConnectAsync(host, Protocol.V500, "drop-member-b");
        var c = await MqttNetClient.ConnectAsync(host, Protocol.V500, "drop-member-c");
        try
        {
            c.Acknowledge = false;
            foreach (var member in new[] { a, b, c })
            {
                await member.SubscribeAsync(Filter, 1);
            }

            await using var publisher = await MqttNetClient.ConnectAsync(host, Protocol.V500, "drop-publisher");
            var publishing = PublishAsync(publisher, "d", Total, qos: _ => 1);

            await c.WaitForMessagesAsync(20);
            Assert.False(publishing.IsCompleted, "the publisher finished before the member dropped: not mid-stream");
            c.Client.Dispose(); // the socket is closed without DISCONNECT
            var unacknowledged = c.Messages.Select(m => m.Payload).ToList();
            await host.WaitUntilOfflineAsync("drop-member-c", TimeSpan.FromSeconds(10));

            await publishing;
            await Poll.UntilAsync(() => a.Count + b.Count >= Total, DeliveryTimeout);
            AssertEachOnce([a, b], Enumerable.Range(0, Total).Select(i => $"d-{i}"));
            var kept = a.Messages.Concat(b.Messages).Select(m => m.Payload).ToHashSet();
            Assert.All(unacknowledged, payload => Assert.Contains(payload, kept));
        }
        finally
        {
            c.Client.Dispose();
        }
    }

    private static InteropHost NewHost(string strategy) => new(new Dictionary<string, string>
    {
        ["Mqtt:SharedSubscriptionStrategy"] = strategy,

        // A member's queue must hold what it is given while it lags (the default 1000 could overflow and drop).
        ["Mqtt:MaximumQueuedMessages"] = "20000",
    });

    private static async Task<List<MqttNetClient>> ConnectMembersAsync(InteropHost host, string name)
    {
        List<MqttNetClient> members = [];
        for (var i = 0; i < 3; i++)
        {
            var member = await MqttNetClient.ConnectAsync(host, Protocol.V500, $"jobs-member-{name}-{i}");
            members.Add(member);
            await member.SubscribeAsync(Filter, 1);
        }

        return members;
    }

    /// <summary>Publishes "{prefix}-{i}" to jobs/{i % 10}, QoS 0 for even i and 1 for odd (unless told), up to 200 at a time.</summary>
    private static async Task PublishAsync(MqttNetClient publisher, string prefix, int count, Func<int, int>? qos = null)
    {
        qos ??= static i => i % 2;
        for (var start = 0; start < count; start += 200)
        {
            var batch = Enumerable.Range(start, Math.Min(200, count - start)).Select(async i =>
            {
                var message = new MqttApplicationMessageBuilder()
                    .WithTopic($"jobs/{i % 10}")
                    .WithPayload(Encoding.UTF8.GetBytes($"{prefix}-{i}"))
                    .WithQualityOfServiceLevel((MqttQualityOfServiceLevel)qos(i))
                    .Build();
                var result = await publisher.Client.PublishAsync(message);
                Assert.True(result.IsSuccess, $"{prefix}-{i}: {result.ReasonCode}");
            });
            await Task.WhenAll(batch);
        }

        // MQTTnet closes its socket with SO_LINGER 0 (a TCP reset): QoS 0 PUBLISHes (and the DISCONNECT) still in
        // flight when it is disposed are thrown away by the kernel. The PINGRESP shows the broker has read them.
        await publisher.Client.PingAsync();
    }

    /// <summary>Every expected payload arrived at exactly one member, and nothing else arrived.</summary>
    private static void AssertEachOnce(IEnumerable<MqttNetClient> members, IEnumerable<string> expected)
    {
        var received = members.SelectMany(m => m.Messages.Select(message => message.Payload)).ToList();
        var duplicates = received.GroupBy(p => p).Where(g => g.Count() > 1).Select(g => g.Key).Take(10).ToList();
        Assert.True(duplicates.Count == 0, $"delivered more than once: {string.Join(", ", duplicates)}");
        var missing = expected.Except(received).Take(10).ToList();
        Assert.True(missing.Count == 0, $"lost: {string.Join(", ", missing)}");
        Assert.Equal(expected.Count(), received.Count);
    }
}
