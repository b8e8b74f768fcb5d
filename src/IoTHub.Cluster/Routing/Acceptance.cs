using System.Globalization;
using IoTHub.Broker.Routing;

namespace IoTHub.Cluster.Routing;

/// <summary>
/// What the publishers of a run of QoS 1 and 2 messages queued for one node wait for before their PUBACK/PUBREC
/// (docs/clustering.md#acknowledged-forwarding): every message queued for the node while it is the queue's open one. It
/// completes when the node accepted all of them, and faults (<see cref="ForwardNotAcceptedException"/>) when one call carrying
/// some of them failed, the node was purged, or <see cref="RoutingSettings.ForwardAckTimeout"/> passed since its first message.
/// One per run, not per message: under load a run is about what one call carries.
/// </summary>
internal sealed class Acceptance
{
    private readonly TaskCompletionSource _accepted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Messages queued with it: counted under the queue's lock, final once closed (which the sender does under that lock).
    private int _count;
    private bool _closed;

    // Messages of it the sender is done with (the node took them, or they expired); the sender's alone.
    private int _settled;

    // Messages of it that certainly never reached the node: purged from the queue, or in a call the node never committed (its receipt).
    private int _notTaken;

    // Messages of it in calls in doubt (ForwardQueue): failed, and maybe taken, their outcome asked of the store once the node
    // is dead. The bound waits for them: the doubt has a bound of its own.
    private int _doubted;
    private ITimer? _bound;

    public Task Task => _accepted.Task;

    /// <summary>A message joins it; the first starts the bound. Under the queue's lock.</summary>
    public void Add(TimeSpan bound, string node, TimeProvider time)
    {
        if (_count++ == 0)
        {
            _bound = time.CreateTimer(static state =>
            {
                var (acceptance, node, bound) = ((Acceptance, string, TimeSpan))state!;
                if (Volatile.Read(ref acceptance._doubted) > 0)
                {
                    acceptance._bound?.Change(bound, Timeout.InfiniteTimeSpan);
                    return;
                }

                acceptance.Fail(string.Create(CultureInfo.InvariantCulture,
                    $"node {node} did not accept it within Cluster:Routing:ForwardAckTimeout ({bound.TotalSeconds:0.###} s)"));
            }, (this, node, bound), bound, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>No message joins it any more (the sender took its first). Under the queue's lock.</summary>
    public void Close() => _closed = true;

    /// <summary>
    /// <paramref name="count"/> of its messages are in a call in doubt (<paramref name="doubted"/>), or no longer (false): meanwhile the
    /// bound does not fail it.
    /// </summary>
    public void Doubt(int count, bool doubted) => Interlocked.Add(ref _doubted, doubted ? count : -count);

    /// <summary>The sender is done with <paramref name="count"/> of its messages: the node took them (or they expired).</summary>
    public void Settle(int count)
    {
        _settled += count;
        if (_closed && _settled == _count)
        {
            _bound?.Dispose();
            _accepted.TrySetResult();
        }
    }

    /// <summary>
    /// Its publishers are not acknowledged: some of its messages may not have reached the node. <paramref name="notTaken"/> of them
    /// certainly did not; when that makes all of them, the failure says so (<see cref="ForwardNotAcceptedException.NotTaken"/>), and a
    /// QoS 2 message that went to no other node or session may be routed afresh when sent again.
    /// </summary>
    public void Fail(string reason, int notTaken = 0)
    {
        var none = Interlocked.Add(ref _notTaken, notTaken) == Volatile.Read(ref _count);
        if (_accepted.TrySetException(new ForwardNotAcceptedException(reason, notTaken: none)))
        {
            _bound?.Dispose();

            // Observed here: its publishers may all be gone already.
            _ = _accepted.Task.Exception;
        }
    }
}
