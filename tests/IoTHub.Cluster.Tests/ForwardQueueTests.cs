using System.Text;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Cluster.Nodes;
using IoTHub.Cluster.Routing;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Orleans.Runtime;

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

    private static readonly TimeSpan Answered = TimeSpan.FromSeconds(10);

    private static ForwardQueue Queue(int batchSize = 256) => new(new RoutingSettings { ForwardBatchSize = batchSize }, "127.0.0.1:11112@1", TimeProvider.System);

    private static Task Held(ForwardQueue queue) =>
        queue.TryEnqueueHeld(MqttMessage.Create("t", "m"u8, QualityOfService.ExactlyOnce, retain: false), toSubscribers: true, []) ?? throw new InvalidOperationException("queue full");

    private static async Task<ForwardNotAcceptedException> NotAcceptedAsync(Task accepted) =>
        await Assert.ThrowsAsync<ForwardNotAcceptedException>(() => accepted.WaitAsync(Answered));

    /// <summary>
    /// A call refused before it was sent (the node is no longer a member: Orleans' placement refuses it) delivered nothing: its messages'
    /// failure says they were not taken, so a QoS 2 resend may be routed afresh without a duplicate [MQTT-4.3.3-10]. Any other failure
    /// (the call timed out, the node died while it was out) may have delivered them: the failure must not say so.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task OnlyACallRefusedBeforeItLeftFailsItsMessagesAsNotTaken(bool neverLeft)
    {
        var queue = Queue();
        var first = Held(queue);
        var second = Held(queue);
        using var stopping = new CancellationTokenSource();
        Exception failure = neverLeft ? new NodeNotActiveException("node 127.0.0.1:11112@1 is not an active member") : new SiloUnavailableException("the node became unavailable");
        var sender = queue.RunAsync(_ => Task.FromException(failure), (_, _) => { }, TimeProvider.System, stopping.Token);
        queue.Wake();

        Assert.Equal(neverLeft, (await NotAcceptedAsync(first)).NotTaken);
        Assert.Equal(neverLeft, (await NotAcceptedAsync(second)).NotTaken);
        await stopping.CancelAsync();
        await sender;
    }

    /// <summary>An acceptance whose first message the node took, and whose second a refused call carried, was taken in part: not "not taken".</summary>
    [Fact]
    public async Task AnAcceptanceOfWhichTheNodeTookSomeIsNotFailedAsNotTaken()
    {
        var queue = Queue(batchSize: 1);
        var first = Held(queue);
        var second = Held(queue);
        Assert.Same(first, second);
        var calls = 0;
        using var stopping = new CancellationTokenSource();
        var sender = queue.RunAsync(_ => Interlocked.Increment(ref calls) == 1 ? Task.CompletedTask : Task.FromException(new NodeNotActiveException("gone")),
            (_, _) => { }, TimeProvider.System, stopping.Token);
        queue.Wake();

        Assert.False((await NotAcceptedAsync(first)).NotTaken);
        Assert.Equal(2, Volatile.Read(ref calls));
        await stopping.CancelAsync();
        await sender;
    }

    /// <summary>
    /// The node is declared dead while a call is out and more is queued: what was still queued is never sent, so its failure says not
    /// taken; the call's messages may have reached the node, so theirs does not.
    /// </summary>
    [Fact]
    public async Task MessagesStillQueuedWhenTheNodeIsAbandonedAreNotTakenAndThoseInTheCallOutMayBe()
    {
        var queue = Queue();
        var inFlight = Held(queue);
        var call = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopping = new CancellationTokenSource();
        var sender = queue.RunAsync(_ =>
        {
            sent.TrySetResult();
            return call.Task;
        }, (_, _) => { }, TimeProvider.System, stopping.Token);
        queue.Wake();
        await sent.Task.WaitAsync(Answered);
        var queued = Held(queue);
        var alsoQueued = Held(queue);

        queue.Abandon();
        call.SetException(new SiloUnavailableException("the node was declared dead"));

        Assert.True((await NotAcceptedAsync(queued)).NotTaken);
        Assert.Same(queued, alsoQueued);
        Assert.False((await NotAcceptedAsync(inFlight)).NotTaken);
        await sender.WaitAsync(Answered);
    }
}
