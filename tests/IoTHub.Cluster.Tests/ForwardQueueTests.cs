using System.Text;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Cluster.Nodes;
using IoTHub.Cluster.Routing;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.Time.Testing;
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
        var sender = queue.RunAsync((batch, _) =>
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
    /// Without a receipt no failed call is known not taken, a refusal as not an active member included (Orleans' placement refuses a call
    /// to a dead node, yet a QoS 2 stream through a death got duplicates when that was taken for proof): the failure must not say so, or a
    /// QoS 2 resend would be routed afresh to a node that may have it [MQTT-4.3.3-10].
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WithoutAReceiptNoFailedCallIsKnownNotTakenARefusalIncluded(bool refused)
    {
        var queue = Queue();
        var first = Held(queue);
        var second = Held(queue);
        using var stopping = new CancellationTokenSource();
        Exception failure = refused ? new NodeNotActiveException("node 127.0.0.1:11112@1 is not an active member") : new SiloUnavailableException("the node became unavailable");
        var sender = queue.RunAsync((_, _) => Task.FromException(failure), (_, _) => { }, TimeProvider.System, stopping.Token);
        queue.Wake();

        Assert.False((await NotAcceptedAsync(first)).NotTaken);
        Assert.False((await NotAcceptedAsync(second)).NotTaken);
        await stopping.CancelAsync();
        await sender;
    }

    /// <summary>
    /// An acceptance whose first message the node took, and whose second a call in doubt carried that the node never committed, was taken
    /// in part: not "not taken" (its resends would reach the node that has the first a second time).
    /// </summary>
    [Fact]
    public async Task AnAcceptanceOfWhichTheNodeTookSomeIsNotFailedAsNotTaken()
    {
        var queue = new ForwardQueue(new RoutingSettings { ForwardBatchSize = 1, ForwardAckTimeout = TimeSpan.FromMinutes(1) }, "127.0.0.1:11112@1",
            TimeProvider.System, new ReceiptFence(Self, () => true, (_, _) => Task.FromResult<long[]>([])));
        var first = Held(queue);
        var second = Held(queue);
        Assert.Same(first, second);
        var calls = 0;
        using var stopping = new CancellationTokenSource();
        var sender = queue.RunAsync((_, _) => Interlocked.Increment(ref calls) == 1 ? Task.CompletedTask : Task.FromException(new SiloUnavailableException("gone")),
            (_, _) => queue.Abandon(), TimeProvider.System, stopping.Token);
        queue.Wake();

        var failure = await NotAcceptedAsync(first);
        Assert.False(failure.NotTaken);
        Assert.Contains("died without committing it", failure.Message, StringComparison.Ordinal);
        Assert.Equal(2, Volatile.Read(ref calls));
        await sender.WaitAsync(Answered);
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
        var sender = queue.RunAsync((_, _) =>
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

    private const string Self = "127.0.0.1:11111@1";

    private static ForwardQueue QueueWithReceipts(Func<long[], Task<long[]>> fence, TimeProvider? time = null, TimeSpan? forwardAckTimeout = null) =>
        new(new RoutingSettings { ForwardAckTimeout = forwardAckTimeout ?? TimeSpan.FromMinutes(1) }, "127.0.0.1:11112@1", time ?? TimeProvider.System,
            new ReceiptFence(Self, () => true, (sequences, _) => fence(sequences)));

    private static Task HeldAtQos(ForwardQueue queue, QualityOfService qos) =>
        queue.TryEnqueueHeld(MqttMessage.Create("t", "m"u8, qos, retain: false), toSubscribers: true, []) ?? throw new InvalidOperationException("queue full");

    /// <summary>
    /// docs/clustering.md#forward-receipts: a call carrying a QoS 2 message asks the node for a receipt in its commit; when the call fails
    /// after it may have left, its publishers' acknowledgements wait until the node is declared dead (Abandon) and fenced, and then follow
    /// what the store tells: the node committed it (its sessions, adopted from the store, have the message: PUBREC, nothing lost
    /// [MQTT-4.3.3-9]), or not (not taken: the resend may be routed afresh, no duplicate [MQTT-4.3.3-10]).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ACallInDoubtFollowsWhatTheFenceTellsOnceTheNodeIsDead(bool committed)
    {
        long[]? asked = null;
        var queue = QueueWithReceipts(sequences =>
        {
            asked = sequences;
            return Task.FromResult(committed ? sequences : []);
        });
        var accepted = HeldAtQos(queue, QualityOfService.ExactlyOnce);
        ForwardReceipt? receipt = null;
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopping = new CancellationTokenSource();
        var sender = queue.RunAsync((_, r) =>
        {
            receipt = r;
            return Task.FromException(new SiloUnavailableException("the node became unavailable"));
        }, (_, _) => failed.TrySetResult(), TimeProvider.System, stopping.Token);
        queue.Wake();
        await failed.Task.WaitAsync(Answered);

        Assert.Equal(new ForwardReceipt(Self, "127.0.0.1:11112@1", 1, 1), receipt);
        Assert.False(accepted.IsCompleted);
        Assert.Null(asked);

        queue.Abandon();
        if (committed)
        {
            await accepted.WaitAsync(Answered);
            Assert.Equal(1, queue.Sent);
            Assert.Equal(0, queue.Lost);
        }
        else
        {
            Assert.True((await NotAcceptedAsync(accepted)).NotTaken);
            Assert.Equal(1, queue.Lost);
        }

        Assert.Equal([1L], asked!);
        Assert.Equal(0, queue.Held);
        await sender.WaitAsync(Answered);
    }

    /// <summary>When the store cannot tell (the fence failed), a call in doubt may have been delivered: its failure must not say not taken.</summary>
    [Fact]
    public async Task ACallInDoubtMayHaveBeenDeliveredWhenTheFenceFails()
    {
        var queue = QueueWithReceipts(_ => Task.FromException<long[]>(new TimeoutException("the store did not answer")));
        var accepted = HeldAtQos(queue, QualityOfService.ExactlyOnce);
        using var stopping = new CancellationTokenSource();
        var sender = queue.RunAsync((_, _) => Task.FromException(new SiloUnavailableException("gone")), (_, _) => queue.Abandon(),
            TimeProvider.System, stopping.Token);
        queue.Wake();

        var failure = await NotAcceptedAsync(accepted);
        Assert.False(failure.NotTaken);
        Assert.Contains("the store did not answer", failure.Message, StringComparison.Ordinal);
        await sender.WaitAsync(Answered);
    }

    /// <summary>
    /// A call in doubt to a node that is not declared dead is given up after ForwardAckTimeout from its failure: maybe delivered. Until
    /// then the acceptance's own bound (ForwardAckTimeout from its first message) does not fail it, or the fence could never help.
    /// </summary>
    [Fact]
    public async Task ACallInDoubtIsGivenUpWhenTheNodeIsNotDeclaredDeadAndTheBoundWaitsForIt()
    {
        var time = new FakeTimeProvider();
        var bound = TimeSpan.FromSeconds(5);
        var queue = QueueWithReceipts(_ => throw new InvalidOperationException("no fence for a live node"), time, bound);
        var accepted = HeldAtQos(queue, QualityOfService.ExactlyOnce);
        var call = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopping = new CancellationTokenSource();
        var sender = queue.RunAsync((_, _) =>
        {
            sent.TrySetResult();
            return call.Task;
        }, (_, _) => failed.TrySetResult(), time, stopping.Token);
        queue.Wake();
        await sent.Task.WaitAsync(Answered);

        // The call fails 2 s after the message was queued: the acceptance's bound comes at 5 s, the doubt's end at 7 s.
        time.Advance(TimeSpan.FromSeconds(2));
        call.SetException(new TimeoutException("no answer"));
        await failed.Task.WaitAsync(Answered);
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(accepted.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(1));
        var failure = await NotAcceptedAsync(accepted);
        Assert.False(failure.NotTaken);
        Assert.Contains("not declared dead", failure.Message, StringComparison.Ordinal);
        await stopping.CancelAsync();
        await sender.WaitAsync(Answered);
    }

    /// <summary>
    /// Only a call with a QoS 2 message asks for a receipt (a QoS 1 resend may be a duplicate anyway), and the calls after one in doubt
    /// keep its receipt (PruneBelow): the fence still needs it.
    /// </summary>
    [Fact]
    public async Task OnlyCallsWithQos2AskForAReceiptAndTheyKeepTheReceiptsOfCallsInDoubt()
    {
        var queue = QueueWithReceipts(Task.FromResult);
        var receipts = new List<ForwardReceipt?>();
        var calls = 0;
        var answered = new SemaphoreSlim(0);
        using var stopping = new CancellationTokenSource();
        var sender = queue.RunAsync((_, receipt) =>
        {
            receipts.Add(receipt);
            return Interlocked.Increment(ref calls) == 3 ? Task.FromException(new SiloUnavailableException("gone")) : Task.CompletedTask;
        }, (_, _) => answered.Release(), TimeProvider.System, stopping.Token);

        await HeldAndSentAsync(QualityOfService.ExactlyOnce);
        await HeldAndSentAsync(QualityOfService.AtLeastOnce);
        var doubted = HeldAtQos(queue, QualityOfService.ExactlyOnce);
        queue.Wake();
        await answered.WaitAsync(Answered);
        await HeldAndSentAsync(QualityOfService.ExactlyOnce);

        Assert.Equal([new ForwardReceipt(Self, "127.0.0.1:11112@1", 1, 1), null, new ForwardReceipt(Self, "127.0.0.1:11112@1", 2, 2),
            new ForwardReceipt(Self, "127.0.0.1:11112@1", 3, 2)], receipts);
        Assert.False(doubted.IsCompleted);
        queue.Abandon();
        await doubted.WaitAsync(Answered);
        await sender.WaitAsync(Answered);

        async Task HeldAndSentAsync(QualityOfService qos)
        {
            var accepted = HeldAtQos(queue, qos);
            queue.Wake();
            await accepted.WaitAsync(Answered);
        }
    }
}
