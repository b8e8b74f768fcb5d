using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace IoTHub.Web.Transports.WebSockets;

/// <summary>
/// The broker's output on a WebSocket: what it writes between two flushes goes out as one binary frame [MQTT-6.0.0-1],
/// written to the connection by the flush itself. The bytes are written after room for the longest header, so the frame
/// leaves in one write with its header filled in before them; the buffer comes from the shared pool at the first write
/// and goes back at the flush, so an idle connection holds none. Control frames (Pong, Close) are written between
/// messages, never inside one; nothing is written after Close.
/// </summary>
internal sealed class WebSocketMessageWriter : PipeWriter, IDisposable
{
    private const int MinimumBufferSize = 4096;

    private readonly SemaphoreSlim _writing = new(1, 1);
    private CancellationTokenSource _flushCancellation = new();
    private byte[]? _buffer;
    private int _end = ServerFrames.MaximumHeaderLength;
    private bool _closeSent;

    /// <summary>The upgraded HTTP/1.1 connection's own output, or null when frames go to <see cref="_stream"/>.</summary>
    private readonly PipeWriter? _connection;

    /// <summary>An HTTP/2 stream's body.</summary>
    private readonly Stream? _stream;

    public WebSocketMessageWriter(PipeWriter connection) => _connection = connection;

    public WebSocketMessageWriter(Stream stream) => _stream = stream;

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _end - ServerFrames.MaximumHeaderLength;

    public override Memory<byte> GetMemory(int sizeHint = 0) => Reserve(sizeHint).AsMemory(_end);

    public override Span<byte> GetSpan(int sizeHint = 0) => Reserve(sizeHint).AsSpan(_end);

    public override void Advance(int bytes) => _end += bytes;

    public override void CancelPendingFlush() => _flushCancellation.Cancel();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_buffer is not { } buffer)
        {
            return new FlushResult(isCanceled: false, isCompleted: _closeSent);
        }

        var length = _end - ServerFrames.MaximumHeaderLength;
        _buffer = null;
        _end = ServerFrames.MaximumHeaderLength;
        try
        {
            var start = ServerFrames.WriteHeaderBefore(buffer, ServerFrames.MaximumHeaderLength, WebSocketOpcode.Binary, length);
            return await SendAsync(buffer.AsMemory(start, ServerFrames.MaximumHeaderLength + length - start), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Sends a control frame between messages; after Close, nothing more is sent.</summary>
    public async ValueTask SendControlAsync(WebSocketOpcode opcode, byte[] payload, CancellationToken cancellationToken = default)
    {
        var frame = new byte[ServerFrames.MaximumHeaderLength + payload.Length];
        payload.CopyTo(frame, ServerFrames.MaximumHeaderLength);
        var start = ServerFrames.WriteHeaderBefore(frame, ServerFrames.MaximumHeaderLength, opcode, payload.Length);
        await SendAsync(frame.AsMemory(start), cancellationToken, closing: opcode == WebSocketOpcode.Close).ConfigureAwait(false);
    }

    /// <summary>The broker is done writing: what it wrote and did not flush is dropped, as with any pipe.</summary>
    public override void Complete(Exception? exception = null)
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _end = ServerFrames.MaximumHeaderLength;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken, bool closing = false)
    {
        var flushCancellation = _flushCancellation;
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, flushCancellation.Token) : null;
        await _writing.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_closeSent)
            {
                return new FlushResult(isCanceled: false, isCompleted: true);
            }

            _closeSent = closing;
            var token = linked?.Token ?? flushCancellation.Token;
            if (_connection is not null)
            {
                _connection.Write(frame.Span);
                var flushed = await _connection.FlushAsync(token).ConfigureAwait(false);
                _closeSent |= flushed.IsCompleted;
                return new FlushResult(isCanceled: false, isCompleted: _closeSent);
            }

            await _stream!.WriteAsync(frame, token).ConfigureAwait(false);
            return new FlushResult(isCanceled: false, isCompleted: closing);
        }
        catch (OperationCanceledException) when (flushCancellation.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            _flushCancellation = new CancellationTokenSource();
            return new FlushResult(isCanceled: true, isCompleted: false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The client is gone; the broker learns it from its input.
            _closeSent = true;
            return new FlushResult(isCanceled: false, isCompleted: true);
        }
        finally
        {
            _writing.Release();
        }
    }

    public void Dispose()
    {
        _writing.Dispose();
        _flushCancellation.Dispose();
    }

    private byte[] Reserve(int sizeHint)
    {
        var needed = _end + Math.Max(sizeHint, 1);
        if (_buffer is { } buffer && buffer.Length >= needed)
        {
            return buffer;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(MinimumBufferSize, (_buffer?.Length ?? 0) * 2)));
        if (_buffer is not null)
        {
            _buffer.AsSpan(ServerFrames.MaximumHeaderLength, _end - ServerFrames.MaximumHeaderLength).CopyTo(larger.AsSpan(ServerFrames.MaximumHeaderLength));
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = larger;
        return larger;
    }
}
