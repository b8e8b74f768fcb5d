using System.Text;
using IoTHub.Broker.Messages;
using IoTHub.Cluster.Routing;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Cluster.Tests;

/// <summary>The sender of one node's forwards alone, on the real clock, with a publisher queueing while it sends.</summary>
public sealed class ForwardQueueTests
{
    /// <summary>
    /// [MQTT-3.3.2-6]: what a subscriber gets is the interval received minus the time the message waited, never more. A forward
    /// carries the seconds left; the sender once read the clock before taking what was queued, so a message queued after that reading
    /// showed a second more than it was given (301 of 300 in an end-to-end test). The race needs a publisher queueing while the
    /// sender runs: 200 000 messages of 300 s, none may carry more than 300.
    /// </summary>
    [Fact]
    public async Task AMessageQueuedWhileTheSenderRunsNeverCarriesMoreTimeThanItWasGiven()
    {
        var queue = new ForwardQueue(new RoutingSettings { ForwardBatchSize = 16 }, "127.0.0.1:11112@1", TimeProvider.System);
        var properties = new MqttProperties { MessageExpiryInterval = 300 };
        var payload = Encoding.UTF8.GetBytes("p");
        uint most = 0;
        var forwarded = 0;
        using var stopping = new CancellationTokenSource();
        var sender = queue.RunAsync(batch =>
        {
            foreach (var message in batch)
            {
                most = Math.Max(most, message.ExpiresIn!.Value);
            }

            Interlocked.Add(ref forwarded, batch.Length);
            return Task.CompletedTask;
        }, (_, e) => Assert.Fail("a batch failed: " + e), TimeProvider.System, stopping.Token);

        const int Messages = 200_000;
        for (var i = 0; i < Messages; i++)
        {
            while (!queue.TryEnqueue(new Forward(MqttMessage.Create("t", payload, QualityOfService.AtLeastOnce, false, properties), true, [])))
            {
                await Task.Yield();
            }

            queue.Wake();
        }

        await Poll.UntilAsync(() => Volatile.Read(ref forwarded) == Messages, TimeSpan.FromSeconds(30));
        await stopping.CancelAsync();
        await sender;
        Assert.InRange(most, 299u, 300u);
    }
}
