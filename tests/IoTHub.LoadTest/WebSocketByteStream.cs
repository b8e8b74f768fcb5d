using System.Net.WebSockets;

namespace IoTHub.LoadTest;

/// <summary>
/// MQTT's byte stream over a client WebSocket: each write one binary message (a flush of the client's pipe), reads
/// across message boundaries, as MQTT 5.0 §6 lets packets and messages fall [MQTT-6.0.0-2]. The framework's
/// WebSocketStream does the same, but fails a lost connection with WebSocketException or NotSupportedException where
/// the socket and TLS streams throw IOException, which is what the rest of the tool handles: here it is IOException
/// on every transport. Disposing aborts the WebSocket without a close handshake, as tcp and tls close after DISCONNECT.
/// </summary>
internal sealed class WebSocketByteStream(WebSocket webSocket) : Stream
{
    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            while (true)
            {
                var result = await webSocket.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return 0;
                }

                if (result.MessageType == WebSocketMessageType.Text)
                {
                    throw new IOException("the broker sent a text frame: MQTT over WebSocket is binary [MQTT-6.0.0-1]");
                }

                // An empty message is no end of stream: read on.
                if (result.Count > 0 || buffer.IsEmpty)
                {
                    return result.Count;
                }
            }
        }
        catch (WebSocketException ex)
        {
            throw new IOException(ex.Message, ex);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await webSocket.SendAsync(buffer, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        catch (WebSocketException ex)
        {
            throw new IOException(ex.Message, ex);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // The managed WebSocket disposes the stream under it (TLS, then the socket).
            webSocket.Dispose();
        }

        base.Dispose(disposing);
    }
}
