using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// A connection's output as a <see cref="PipeWriter"/>: bytes are written into pool blocks and sent by the flush itself
/// with non-blocking sends. Only when the socket's send buffer is full does a send wait for the socket (one pending
/// send for the connection); the flush then returns at once while fewer than <see cref="PauseThreshold"/> bytes wait, and
/// holds the writer back beyond, as Kestrel's output pipe does. Blocks go back to the pool once sent.
/// </summary>
/// <remarks>
/// The writer (one thread at a time, as for any <see cref="PipeWriter"/>) appends to the last block; the sender (the
/// flush, then the socket's completions while a send waits) sends from the first. Both change the block list under the
/// lock on this object, except while no send is under way (<see cref="_sending"/> false), when the writer is alone.
/// </remarks>
internal sealed class SocketOutput(Socket socket, MemoryPool<byte> pool) : PipeWriter
{
    /// <summary>Flushed bytes not sent yet beyond which a flush waits (Kestrel's default for a connection's output).</summary>
    public const long PauseThreshold = 64 * 1024;

    private Waiter<FlushResult>? _waiter;
    private SendArgs? _sendArgs;
    private SegmentChain _buffers;

    // Where the flushed bytes end: sends stop there.
    private PooledSegment? _flushedSegment;
    private int _flushedEnd;

    private long _written;
    private long _flushed;
    private long _sent;
    private volatile bool _sending;

    // The writer holds memory from GetMemory that it has not advanced over yet.
    private bool _holding;
    private bool _waiting;
    private bool _cancelNext;
    private bool _failed;

    public override bool CanGetUnflushedBytes => true;

    /// <summary>Kestrel's HTTP/1.1 response writer asks (System.Text.Json flushes by it).</summary>
    public override long UnflushedBytes => _written - _flushed;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (!_sending)
        {
            return Reserve(sizeHint);
        }

        lock (this)
        {
            return Reserve(sizeHint);
        }
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        if (!_sending)
        {
            Written(bytes);
            return;
        }

        lock (this)
        {
            Written(bytes);
        }
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        bool send;
        lock (this)
        {
            if (TryTakeResult(out var ready))
            {
                return new ValueTask<FlushResult>(ready);
            }

            MarkFlushed();
            send = !_sending && _sent < _flushed;
            _sending |= send;
        }

        if (send)
        {
            Send();
        }

        lock (this)
        {
            if (_failed || _flushed - _sent <= PauseThreshold)
            {
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: _failed));
            }

            _waiting = true;
            return (_waiter ??= new Waiter<FlushResult>()).Start(static (state, token) => ((SocketOutput)state!).CancelWait(token), this, cancellationToken);
        }
    }

    public override void CancelPendingFlush()
    {
        lock (this)
        {
            if (!_waiting)
            {
                _cancelNext = true;
                return;
            }

            _waiting = false;
        }

        Hand(new FlushResult(isCanceled: true, isCompleted: false), null);
    }

    /// <summary>The writer is done: what it wrote is sent (the connection closes the socket when it is disposed).</summary>
    public override void Complete(Exception? exception = null)
    {
        bool send;
        lock (this)
        {
            _holding = false;
            MarkFlushed();
            send = !_sending && _sent < _flushed;
            _sending |= send;
        }

        if (send)
        {
            Send();
        }
    }

    /// <summary>The socket is closed: buffers not under a send go back to the pool (a pending send releases its own when it fails).</summary>
    public void Release()
    {
        lock (this)
        {
            _failed = true;
            if (!_sending)
            {
                ReleaseBuffers();
            }
        }
    }

    private Memory<byte> Reserve(int sizeHint)
    {
        var size = Math.Max(sizeHint, 1);
        if (_buffers.Tail is null || _buffers.Tail.Capacity - _buffers.Tail.Filled < size)
        {
            _buffers.Append(new PooledSegment(pool, size));
        }

        _holding = true;
        return _buffers.Tail!.Free;
    }

    private void Written(int bytes)
    {
        if (_buffers.Tail is null || bytes < 0 || bytes > _buffers.Tail.Capacity - _buffers.Tail.Filled)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), "More bytes than GetMemory gave.");
        }

        _buffers.Tail.Filled += bytes;
        _written += bytes;
        _holding = false;
    }

    private void MarkFlushed()
    {
        _flushed = _written;
        _flushedSegment = _buffers.Tail;
        _flushedEnd = _buffers.Tail?.Filled ?? 0;
    }

    private bool TryTakeResult(out FlushResult result)
    {
        if (_cancelNext)
        {
            _cancelNext = false;
            result = new FlushResult(isCanceled: true, isCompleted: _failed);
            return true;
        }

        result = new FlushResult(isCanceled: false, isCompleted: true);
        return _failed;
    }

    /// <summary>Sends the flushed bytes while the socket takes them, then waits for it with one pending send.</summary>
    private void Send()
    {
        while (true)
        {
            Memory<byte> chunk;
            lock (this)
            {
                chunk = NextChunk();
                if (chunk.IsEmpty)
                {
                    _sending = false;
                    return;
                }
            }

            int sent;
            SocketError error;
            try
            {
                sent = SocketCalls.Send(socket, chunk.Span, out error);
                if (error == SocketError.WouldBlock)
                {
                    var args = _sendArgs ??= new SendArgs(this);
                    args.SetBuffer(chunk);
                    if (socket.SendAsync(args))
                    {
                        return;
                    }

                    (sent, error) = (args.BytesTransferred, args.SocketError);
                }
            }
            catch (ObjectDisposedException)
            {
                (sent, error) = (0, SocketError.OperationAborted);
            }

            if (!Sent(sent, error))
            {
                return;
            }
        }
    }

    private void OnSent()
    {
        if (Sent(_sendArgs!.BytesTransferred, _sendArgs.SocketError))
        {
            Send();
        }
    }

    /// <summary>Counts what a send took; returns false when sending stops (the socket failed).</summary>
    private bool Sent(int sent, SocketError error)
    {
        FlushResult result;
        lock (this)
        {
            if (error != SocketError.Success)
            {
                _failed = true;
                _sending = false;
                if (!_holding)
                {
                    ReleaseBuffers();
                }
            }
            else
            {
                _sent += sent;
                _buffers.HeadOffset += sent;
            }

            if (!_waiting || (!_failed && _flushed - _sent > PauseThreshold))
            {
                return !_failed;
            }

            _waiting = false;
            result = new FlushResult(isCanceled: false, isCompleted: _failed);
        }

        Hand(result, null);
        return !result.IsCompleted;
    }

    /// <summary>
    /// Under the lock: the next flushed bytes to send, releasing the blocks sent before them; empty when all flushed
    /// bytes are sent, and then the last block too goes back to the pool unless the writer is filling it.
    /// </summary>
    private Memory<byte> NextChunk()
    {
        while (_buffers.Head is not null)
        {
            var end = _buffers.Head == _flushedSegment ? _flushedEnd : _buffers.Head.Filled;
            if (_buffers.HeadOffset < end)
            {
                return _buffers.Head.Slice(_buffers.HeadOffset, end);
            }

            if (_buffers.Head == _flushedSegment || _buffers.Head == _buffers.Tail)
            {
                break;
            }

            _buffers.ReleaseHead();
        }

        if (_buffers.Head is not null && _buffers.Head == _buffers.Tail && !_holding && _buffers.HeadOffset == _buffers.Tail.Filled)
        {
            ReleaseBuffers();
        }

        return Memory<byte>.Empty;
    }

    private void ReleaseBuffers()
    {
        _buffers.ReleaseAll();
        _flushedSegment = null;
        _flushedEnd = 0;
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

        Hand(default, new OperationCanceledException(token));
    }

    /// <summary>Completes the waiting flush; the writer goes on on the thread pool, not inside the sender or the canceller.</summary>
    private void Hand(FlushResult result, Exception? error) => _waiter!.Complete(result, error, asynchronously: true);

    private sealed class SendArgs(SocketOutput output) : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        protected override void OnCompleted(SocketAsyncEventArgs e) => output.OnSent();
    }
}
