using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// A connection's input as a <see cref="PipeReader"/>, read straight from the socket when the reader asks. A read first
/// tries a non-blocking receive; only when nothing is there does the input wait for the socket to become readable, without
/// any buffer: on Linux through <see cref="ReadinessPoll"/> (the socket then has no .NET asynchronous operation at all),
/// elsewhere with a zero-byte receive. When data is there, a block is taken from the pool and filled with a non-blocking
/// receive, and given back once the reader has consumed all of it. Nothing is read ahead of the reader, so a reader that
/// falls behind leaves the data in the socket and TCP holds the client back.
/// </summary>
/// <remarks>
/// One receive runs at a time (<see cref="_receiving"/>): started by <see cref="ReadAsync"/>, continued when the socket
/// is readable. The buffers and flags are changed under the lock on this object, the receive call included (a
/// non-blocking call that never waits); results are handed to the reader outside it. A wait on the poller is owned by
/// <see cref="_armed"/>: the poller's event (<see cref="Readable"/>) and the connection closing the socket (which takes it
/// out of epoll without an event, <see cref="Wake"/>) both take it, and whichever comes first goes on with the receive, on
/// the thread pool, or on the poller's thread when it reads inline (<see cref="ReadinessPoll.Inline"/>).
/// </remarks>
internal sealed class SocketInput(MqttSocketConnection connection, Socket socket, MemoryPool<byte> pool) : PipeReader, IThreadPoolWorkItem, IReadinessTarget
{
    private static readonly ReadinessPoll? Poll = SocketCalls.Poll;

    private Waiter<ReadResult>? _waiter;
    private ReadinessArgs? _readiness;
    private SegmentChain _buffers;

    // The poller's slot (0: none yet), whether the socket is in the epoll set, and 1 while an event is awaited.
    private ulong _token;
    private bool _added;
    private int _armed;

    /// <summary>True when the buffer has bytes the reader has not examined yet.</summary>
    private bool _unexamined;

    private bool _waiting;
    private bool _receiving;
    private bool _cancelNext;
    private bool _ended;
    private bool _completed;
    private Exception? _error;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        bool receive;
        ValueTask<ReadResult> waiting;
        lock (this)
        {
            ThrowIfReading();
            if (TryTakeResult(out var ready, out var error))
            {
                return error is null ? new ValueTask<ReadResult>(ready) : ValueTask.FromException<ReadResult>(error);
            }

            _waiting = true;
            waiting = (_waiter ??= new Waiter<ReadResult>()).Start(static (state, token) => ((SocketInput)state!).CancelWait(token), this, cancellationToken);
            receive = !_receiving;
            _receiving = true;
        }

        if (receive)
        {
            Receive(SocketError.Success);
        }

        return waiting;
    }

    public override bool TryRead(out ReadResult result)
    {
        lock (this)
        {
            ThrowIfReading();
            if (TryTakeResult(out result, out var error))
            {
                return error is null ? true : throw error;
            }

            return false;
        }
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        lock (this)
        {
            if (_buffers.Head is null || consumed.GetObject() is not PooledSegment segment)
            {
                return;
            }

            _unexamined = examined.GetObject() != _buffers.Tail || examined.GetInteger() != _buffers.Tail!.Filled;
            while (_buffers.Head != segment)
            {
                _buffers.ReleaseHead();
            }

            _buffers.HeadOffset = consumed.GetInteger();
            if (_buffers.Head == _buffers.Tail && _buffers.HeadOffset == _buffers.Tail.Filled)
            {
                // All read: the block goes back to the pool, and an idle connection holds none.
                ReleaseBuffers();
            }
        }
    }

    public override void CancelPendingRead()
    {
        ReadResult result;
        lock (this)
        {
            if (!_waiting)
            {
                _cancelNext = true;
                return;
            }

            _waiting = false;
            result = new ReadResult(Buffer(), isCanceled: true, isCompleted: _ended);
        }

        Hand(result, null, asynchronously: true);
    }

    public override void Complete(Exception? exception = null)
    {
        lock (this)
        {
            _completed = true;
            if (!_receiving)
            {
                Release();
            }
        }
    }

    /// <summary>The connection was aborted: the reader gets <paramref name="reason"/> instead of more data.</summary>
    public void Abort(ConnectionAbortedException reason)
    {
        bool hand;
        lock (this)
        {
            _error ??= reason;
            _ended = true;
            hand = _waiting;
            _waiting = false;
        }

        if (hand)
        {
            Hand(default, reason, asynchronously: true);
        }
    }

    private void ThrowIfReading()
    {
        if (_waiting || _completed)
        {
            throw new InvalidOperationException(_completed ? "The reader was completed." : "A read is already pending.");
        }
    }

    /// <summary>Under the lock: what a read returns now, if anything (a cancellation, unexamined bytes, the end, an error).</summary>
    private bool TryTakeResult(out ReadResult result, out Exception? error)
    {
        error = _error;
        result = default;
        if (_cancelNext)
        {
            _cancelNext = false;
            result = new ReadResult(Buffer(), isCanceled: true, isCompleted: _ended);
            return true;
        }

        if (_unexamined || _ended)
        {
            result = new ReadResult(Buffer(), isCanceled: false, isCompleted: _ended);
            return true;
        }

        return false;
    }

    private ReadOnlySequence<byte> Buffer() =>
        _buffers.Head is null ? default : new ReadOnlySequence<byte>(_buffers.Head, _buffers.HeadOffset, _buffers.Tail!, _buffers.Tail!.Filled);

    /// <summary>
    /// The socket was closed: a receive waiting on the poller, if any, goes on on the thread pool (never inside the one
    /// closing the socket).
    /// </summary>
    public void Wake()
    {
        if (Interlocked.Exchange(ref _armed, 0) == 1)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>
    /// The poller's event: the socket is readable, failed or ended. A receive waiting on the poller goes on on the
    /// poller's own thread when <paramref name="inline"/> (the reader then handles what came there too), else on the
    /// thread pool.
    /// </summary>
    public void Readable(bool inline)
    {
        if (!inline)
        {
            Wake();
        }
        else if (Interlocked.Exchange(ref _armed, 0) == 1)
        {
            Receive(SocketError.Success);
        }
    }

    void IThreadPoolWorkItem.Execute() => Receive(SocketError.Success);

    /// <summary>Takes what the socket has, and waits for it to be readable while a reader waits and nothing is there.</summary>
    private void Receive(SocketError waitError)
    {
        while (TakeAvailable(waitError) && !WaitReadable(out waitError))
        {
        }
    }

    /// <summary>
    /// Waits for the socket to be readable: true when the wait is under way (its end receives again), false when it
    /// ended at once, with <paramref name="error"/> if it failed.
    /// </summary>
    private bool WaitReadable(out SocketError error)
    {
        error = SocketError.Success;
        try
        {
            if (Poll is null)
            {
                var readiness = _readiness ??= new ReadinessArgs(this);
                if (socket.ReceiveAsync(readiness))
                {
                    return true;
                }

                error = readiness.SocketError;
                return false;
            }

            Volatile.Write(ref _armed, 1);
            if (_token == 0)
            {
                _token = Poll.Register(this);
            }

            error = Poll.Arm(socket.SafeHandle, _token, ref _added);
        }
        catch (ObjectDisposedException)
        {
            error = SocketError.OperationAborted;
        }

        // Not armed: the receive goes on here, unless the socket was closed meanwhile and Wake has taken it already.
        return error == SocketError.Success || (Poll is not null && Interlocked.Exchange(ref _armed, 0) == 0);
    }

    /// <summary>
    /// The socket is readable (or failed): receives what is there into the buffer's free space or a new block, and hands
    /// it to a waiting reader. Returns true when the receive goes on waiting (nothing was there and a reader waits).
    /// </summary>
    private bool TakeAvailable(SocketError waitError)
    {
        ReadResult result = default;
        Exception? error = null;
        bool hand = false, ended, again = false;
        lock (this)
        {
            var wasEnded = _ended;
            if (_completed)
            {
                _receiving = false;
                Release();
                return false;
            }

            if (waitError != SocketError.Success)
            {
                Fail(waitError);
            }
            else
            {
                again = ReceiveAvailable();
            }

            ended = _ended && !wasEnded;
            _receiving = again;
            if (_waiting && TryTakeResult(out result, out error))
            {
                _waiting = false;
                hand = true;
            }
        }

        if (ended)
        {
            connection.OnInputEnded();
        }

        if (hand)
        {
            Hand(result, error, asynchronously: false);
        }

        return again;
    }

    /// <summary>
    /// Under the lock: one non-blocking receive, into the last buffer's free space or a block rented for it, which becomes
    /// a buffer only if bytes came (a read tries to receive before it waits, and usually finds nothing). Returns true when
    /// there was nothing and a reader waits for more.
    /// </summary>
    private bool ReceiveAvailable()
    {
        var tail = _buffers.Tail is { } last && last.Filled < last.Capacity ? last : null;
        var fresh = tail is null ? pool.Rent() : null;
        int received;
        SocketError error;
        try
        {
            received = SocketCalls.Receive(socket, (tail?.Free ?? fresh!.Memory).Span, out error);
        }
        catch (ObjectDisposedException)
        {
            (received, error) = (0, SocketError.OperationAborted);
        }

        if (received > 0)
        {
            if (fresh is not null)
            {
                tail = new PooledSegment(fresh);
                _buffers.Append(tail);
            }

            tail!.Filled += received;
            _unexamined = true;
            return false;
        }

        fresh?.Dispose();
        if (error == SocketError.WouldBlock)
        {
            return _waiting;
        }

        if (error == SocketError.Success)
        {
            _ended = true;
        }
        else
        {
            Fail(error);
        }

        return false;
    }

    private void Fail(SocketError error)
    {
        _error ??= new ConnectionResetException($"The connection ended: {error}.", new SocketException((int)error));
        _ended = true;
    }

    private void ReleaseBuffers() => _buffers.ReleaseAll();

    /// <summary>Under the lock, once the reader is done and no receive runs: the buffers and the poller's slot go back.</summary>
    private void Release()
    {
        ReleaseBuffers();
        if (_token != 0)
        {
            Poll!.Free(_token);
            _token = 0;
        }
    }

    private void CancelWait(CancellationToken token)
    {
        lock (this)
        {
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
        }

        Hand(default, new OperationCanceledException(token), asynchronously: true);
    }

    private void Hand(ReadResult result, Exception? error, bool asynchronously) => _waiter!.Complete(result, error, asynchronously);

    private sealed class ReadinessArgs : SocketAsyncEventArgs
    {
        private readonly SocketInput _input;

        public ReadinessArgs(SocketInput input) : base(unsafeSuppressExecutionContextFlow: true)
        {
            _input = input;
            SetBuffer(Memory<byte>.Empty);
        }

        protected override void OnCompleted(SocketAsyncEventArgs e) => _input.Receive(e.SocketError);
    }
}
