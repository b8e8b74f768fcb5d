using System.Text;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Sessions;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>
/// A session's queue: arrival order across QoS levels, the overflow policy, and what an overflow costs,
/// counted in entries touched rather than timed (issue 26: a full queue was turned whole for each message).
/// </summary>
public sealed class SessionQueueTests
{
    private static Delivery Message(string payload, QualityOfService qos) =>
        new(MqttMessage.Create("t", Encoding.UTF8.GetBytes(payload), qos, retain: false), qos, Retain: false);

    private static List<string> Drain(SessionQueue queue)
    {
        var payloads = new List<string>();
        while (queue.TryPeek(out var delivery))
        {
            payloads.Add(Encoding.UTF8.GetString(delivery.Message.Payload.Span));
            queue.RemoveOldest();
        }

        return payloads;
    }

    [Fact]
    public void Messages_of_every_qos_leave_in_arrival_order()
    {
        var queue = new SessionQueue();
        queue.Enqueue(Message("a", QualityOfService.AtLeastOnce));
        queue.Enqueue(Message("b", QualityOfService.AtMostOnce));
        queue.Enqueue(Message("c", QualityOfService.AtMostOnce));
        queue.Enqueue(Message("d", QualityOfService.ExactlyOnce));
        queue.Enqueue(Message("e", QualityOfService.AtMostOnce));

        Assert.Equal(5, queue.Count);
        Assert.Equal(["a", "b", "c", "d", "e"], Drain(queue));
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.Bytes);
        Assert.Throws<InvalidOperationException>(queue.RemoveOldest);
    }

    [Fact]
    public void Making_room_drops_the_oldest_qos0_message_and_keeps_the_rest_in_order()
    {
        var queue = new SessionQueue();
        queue.Enqueue(Message("q1-a", QualityOfService.AtLeastOnce));
        queue.Enqueue(Message("q0-b", QualityOfService.AtMostOnce));
        queue.Enqueue(Message("q1-c", QualityOfService.AtLeastOnce));
        queue.Enqueue(Message("q0-d", QualityOfService.AtMostOnce));

        Assert.True(queue.TryMakeRoom(size: 1, maximumCount: 4, maximumBytes: long.MaxValue, out var dropped));
        Assert.Equal(1, dropped);
        queue.Enqueue(Message("q1-e", QualityOfService.AtLeastOnce));

        Assert.Equal(["q1-a", "q1-c", "q0-d", "q1-e"], Drain(queue));
    }

    [Fact]
    public void Making_room_by_bytes_drops_as_many_qos0_messages_as_it_takes()
    {
        var queue = new SessionQueue();
        queue.Enqueue(Message("0123456789", QualityOfService.AtMostOnce));
        queue.Enqueue(Message("0123456789", QualityOfService.AtMostOnce));
        queue.Enqueue(Message("kept", QualityOfService.AtLeastOnce));
        var size = Message("0123456789", QualityOfService.AtMostOnce).Message.Size;

        Assert.True(queue.TryMakeRoom(2 * size, maximumCount: 100, maximumBytes: queue.Bytes, out var dropped));

        Assert.Equal(2, dropped);
        Assert.Equal(["kept"], Drain(queue));
    }

    [Fact]
    public void A_queue_whose_qos1_messages_alone_fill_it_drops_nothing()
    {
        var queue = new SessionQueue();
        queue.Enqueue(Message("q0", QualityOfService.AtMostOnce));
        queue.Enqueue(Message("q1", QualityOfService.AtLeastOnce));
        queue.Enqueue(Message("q2", QualityOfService.ExactlyOnce));

        // By count: the two QoS 1/2 messages fill a queue of two. By bytes: dropping the QoS 0 one frees too little.
        Assert.False(queue.TryMakeRoom(size: 1, maximumCount: 2, maximumBytes: long.MaxValue, out var dropped));
        Assert.Equal(0, dropped);
        Assert.False(queue.TryMakeRoom(size: queue.Bytes, maximumCount: 100, maximumBytes: queue.Bytes, out dropped));
        Assert.Equal(0, dropped);

        Assert.Equal(["q0", "q1", "q2"], Drain(queue));
    }

    [Fact]
    public void Taking_some_messages_out_keeps_the_others_in_order()
    {
        var queue = new SessionQueue();
        foreach (var (payload, qos) in new[] { ("x1", QualityOfService.AtMostOnce), ("k1", QualityOfService.AtLeastOnce), ("x2", QualityOfService.AtLeastOnce),
                     ("k2", QualityOfService.AtMostOnce), ("x3", QualityOfService.AtMostOnce) })
        {
            queue.Enqueue(Message(payload, qos));
        }

        var taken = new List<Delivery>();
        queue.TakeWhere(static d => d.Message.Payload.Span[0] == (byte)'x', taken);

        Assert.Equal(3, taken.Count);
        Assert.Equal(2, queue.Count);
        Assert.Equal(["k1", "k2"], Drain(queue));
    }

    // The cost of a message that finds the queue full, in entries touched, is the same for a queue of 10 and
    // of 100 000: a QoS 1/2 queue refuses without touching anything, a QoS 0 queue drops one and adds one.
    [Theory]
    [InlineData(10)]
    [InlineData(1_000)]
    [InlineData(100_000)]
    public void An_overflow_costs_the_same_whatever_the_queue_length(int length)
    {
        var options = new BrokerOptions { MaximumQueuedMessages = length, QueueQoS0WhileOffline = true, MaximumQueuedBytes = long.MaxValue };
        foreach (var (filling, arriving, expectedTouched) in new[]
                 {
                     (QualityOfService.AtLeastOnce, QualityOfService.AtLeastOnce, 0),
                     (QualityOfService.AtLeastOnce, QualityOfService.AtMostOnce, 0),
                     (QualityOfService.AtMostOnce, QualityOfService.AtMostOnce, 2),
                     (QualityOfService.AtMostOnce, QualityOfService.ExactlyOnce, 2),
                 })
        {
            var session = new Session("offline");
            for (var i = 0; i < length; i++)
            {
                Assert.Equal(EnqueueResult.Queued, session.Enqueue(Message("fill", filling), options, out _));
            }

            // No more arrivals than the queue holds: each QoS 1/2 one arriving in a QoS 0 queue replaces a QoS 0 one.
            var arrivals = Math.Min(1_000, length);
            var expected = filling == QualityOfService.AtMostOnce ? EnqueueResult.DroppedOldest : EnqueueResult.DroppedNew;
            for (var i = 0; i < arrivals; i++)
            {
                var before = session.QueueEntriesTouched;
                Assert.Equal(expected, session.Enqueue(Message("over", arriving), options, out var dropped));
                Assert.Equal(1, dropped);
                Assert.Equal(expectedTouched, session.QueueEntriesTouched - before);
            }

            Assert.Equal(length, session.QueuedMessages);
            Assert.True(session.IsQueueFull);
            Assert.Equal(arrivals, session.QueueFullDrops);
        }
    }
}
