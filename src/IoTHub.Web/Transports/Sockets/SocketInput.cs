using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// A connection's input as a <see cref="PipeReader"/>, read straight from the socket when the reader asks. While the
/// reader waits, a zero-byte receive waits for data without any buffer; when data is there, a block is taken from the
/// pool and filled with a non-blocking receive, and given back once the reader has consumed all of it. Nothing is read
/// ahead of the reader, so a reader that falls behind leaves the data in the socket and TCP holds the client back.
/// </summary>
/// <remarks>
/// One receive runs at a time (<see cref="_receiving"/>): started by <see cref="ReadAsync"/>, continued by the socket's
/// completions. The buffers and flags are changed under the lock on this object, the receive call included (a
/// non-blocking call that never waits); results are handed to the reader outside it.
/// </remarks>
internal sealed class SocketInput(MqttSocketConnection connection, Socket socket, MemoryPool<byte> pool) : PipeReader
{
    private Waiter<ReadResult>? _waiter;
    private ReadinessArgs? _readiness;
    private SegmentChain _buffers;

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
            Receive();
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
                ReleaseBuffers();
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

    /// <summary>Waits for the socket to be readable with a zero-byte receive (no buffer), then takes what is there.</summary>
    private void Receive()
    {
        var readiness = _readiness ??= new ReadinessArgs(this);
        while (true)
        {
            bool pending;
            try
            {
                pending = socket.ReceiveAsync(readiness);
            }
            catch (ObjectDisposedException)
            {
                readiness.SocketError = SocketError.OperationAborted;
                pending = false;
            }

            if (pending || !TakeAvailable(readiness.SocketError))
            {
                return;
            }
        }
    }

    private void OnReadable()
    {
        if (TakeAvailable(_readiness!.SocketError))
        {
            Receive();
        }
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
                ReleaseBuffers();
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

    /// <summary>Under the lock: one non-blocking receive. Returns true when there was nothing and a reader waits for more.</summary>
    private bool ReceiveAvailable()
    {
        var fresh = _buffers.Tail is { } tail && tail.Filled < tail.Capacity ? null : new PooledSegment(pool, pool.MaxBufferSize);
        var target = fresh ?? _buffers.Tail!;
        int received;
        SocketError error;
        try
        {
            received = socket.Receive(target.Free.Span, SocketFlags.None, out error);
        }
        catch (ObjectDisposedException)
        {
            (received, error) = (0, SocketError.OperationAborted);
        }

        if (received > 0)
        {
            if (fresh is not null)
            {
                _buffers.Append(fresh);
            }

            target.Filled += received;
            _unexamined = true;
            return false;
        }

        fresh?.Release();
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

        protected override void OnCompleted(SocketAsyncEventArgs e) => _input.OnReadable();
    }
}
