using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;

namespace IoTHub.Web.Transports.WebSockets;

/// <summary>
/// Bridges an accepted WebSocket to the duplex pipe the broker reads and writes, as MQTT 5.0 §6 asks: frames
/// are a byte stream, so a packet may span frames and a frame may hold several packets [MQTT-6.0.0-2]. What the
/// client sends is received straight into the input pipe's memory; what the broker flushes goes out as one binary
/// message per flush [MQTT-6.0.0-1]. A text frame closes the connection (1003) [MQTT-6.0.0-1], and so does a message
/// (one or more frames) that grows beyond the limit (1009). The broker sees the end of its input when the client
/// closes; when the broker ends, the WebSocket is closed.
/// </summary>
internal sealed class WebSocketPipe : IDuplexPipe
{
    /// <summary>How long a closed connection waits for the client's close frame before the socket is dropped.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private readonly WebSocket _socket;
    private readonly long _maximumMessageSize;
    private readonly Pipe _input = new(new PipeOptions(useSynchronizationContext: false));
    private readonly Pipe _output = new(new PipeOptions(useSynchronizationContext: false));
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string? _closeReason;

    private WebSocketPipe(WebSocket socket, long maximumMessageSize)
    {
        _socket = socket;
        _maximumMessageSize = maximumMessageSize;
    }

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output.Writer;

    /// <summary>Serves the WebSocket with <paramref name="serve"/> (the broker) until both are done.</summary>
    public static async Task RunAsync(WebSocket socket, long maximumMessageSize, Func<IDuplexPipe, Task> serve)
    {
        var pipe = new WebSocketPipe(socket, maximumMessageSize);
        var receiving = pipe.ReceiveAsync();
        var sending = pipe.SendAsync();
        await serve(pipe);
        await sending;
        try
        {
            await receiving.WaitAsync(CloseTimeout);
        }
        catch (TimeoutException)
        {
            socket.Abort();
            await receiving;
        }
    }

    /// <summary>Client to broker. Ends (completing the broker's input) at the client's close, a broken connection or a refused frame.</summary>
    private async Task ReceiveAsync()
    {
        var writer = _input.Writer;
        long messageSize = 0;
        try
        {
            while (true)
            {
                var memory = writer.GetMemory();
                var result = await _socket.ReceiveAsync(memory, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                if (result.MessageType != WebSocketMessageType.Binary)
                {
                    Refuse(WebSocketCloseStatus.InvalidMessageType, "MQTT needs binary frames");
                    break;
                }

                messageSize += result.Count;
                if (messageSize > _maximumMessageSize)
                {
                    Refuse(WebSocketCloseStatus.MessageTooBig, "message larger than the maximum packet size");
                    break;
                }

                if (result.EndOfMessage)
                {
                    messageSize = 0;
                }

                writer.Advance(result.Count);
                var flush = await writer.FlushAsync();
                if (flush.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection broke or was dropped: for the broker, the client is gone.
        }
        finally
        {
            await writer.CompleteAsync();
        }
    }

    /// <summary>Broker to client, each flushed batch one binary message. Ends with the broker's output, then closes the WebSocket.</summary>
    private async Task SendAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    await SendMessageAsync(buffer);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(_closeStatus, _closeReason, CancellationToken.None);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client is gone; the broker learns it from its input.
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private async ValueTask SendMessageAsync(ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            await _socket.SendAsync(buffer.First, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
            return;
        }

        var position = buffer.Start;
        buffer.TryGet(ref position, out var segment);
        while (buffer.TryGet(ref position, out var next))
        {
            await _socket.SendAsync(segment, WebSocketMessageType.Binary, endOfMessage: false, CancellationToken.None);
            segment = next;
        }

        await _socket.SendAsync(segment, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
    }

    /// <summary>Ends the client's input; the broker then ends and the WebSocket is closed with this status.</summary>
    private void Refuse(WebSocketCloseStatus status, string reason)
    {
        _closeStatus = status;
        _closeReason = reason;
    }
}
