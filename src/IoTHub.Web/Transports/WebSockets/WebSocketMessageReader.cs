using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace IoTHub.Web.Transports.WebSockets;

/// <summary>
/// The broker's input on a WebSocket: the payloads of the binary frames a client sends, unmasked, as one byte stream
/// [MQTT-6.0.0-2]. Frames are decoded on the broker's own read, when it asks for more, so no task of its own runs per
/// connection and nothing is decoded ahead of what the broker takes. Ping is answered with Pong and Close with Close
/// (RFC 6455 §5.5); a text frame [MQTT-6.0.0-1], a message beyond the maximum packet size or a frame that breaks RFC 6455
/// ends the input and leaves the close code for <see cref="WebSocketPipe"/> to send.
/// </summary>
internal sealed class WebSocketMessageReader(PipeReader frames, WebSocketMessageWriter output, long maximumMessageSize) : PipeReader
{
    /// <summary>Payload bytes decoded and not yet consumed by the broker; never pauses: decoding follows the broker's reads.</summary>
    private readonly Pipe _payload = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));

    private ReadOnlySequence<byte> _returned;
    private bool _returnedNothing;
    private bool _wantsMore = true;
    private bool _ended;
    private bool _payloadCompleted;

    private long _frameLeft;
    private uint _mask;
    private int _maskOffset;
    private bool _inMessage;
    private long _messageSize;

    /// <summary>Why the input ended, when the server ends it, to send in its Close frame.</summary>
    public (WebSocketCloseCode Code, string Reason)? Refusal { get; private set; }

    /// <summary>The client's Close frame arrived (and was answered).</summary>
    public bool CloseReceived { get; private set; }

    public override bool TryRead(out ReadResult result)
    {
        if (!_wantsMore && _payload.Reader.TryRead(out result))
        {
            _returned = result.Buffer;
            _returnedNothing = false;
            return true;
        }

        result = default;
        return false;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
        TryRead(out var ready) ? new(ready) : DecodeAsync(cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> DecodeAsync(CancellationToken cancellationToken)
    {
        var payload = _payload.Writer;
        while (true)
        {
            if (!_ended)
            {
                var read = await frames.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (read.IsCanceled)
                {
                    frames.AdvanceTo(read.Buffer.Start);
                    return Canceled();
                }

                await DecodeAsync(read, payload, cancellationToken).ConfigureAwait(false);
            }

            if (payload.UnflushedBytes == 0 && !_ended)
            {
                continue;
            }

            if (payload.UnflushedBytes > 0)
            {
                // Completes at once: the payload pipe never pauses.
                await payload.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }

            if (_ended && !_payloadCompleted)
            {
                _payloadCompleted = true;
                await payload.CompleteAsync().ConfigureAwait(false);
            }

            _payload.Reader.TryRead(out var result);
            _wantsMore = false;
            _returned = result.Buffer;
            _returnedNothing = false;
            return result;
        }
    }

    private ReadResult Canceled()
    {
        if (_payload.Reader.TryRead(out var pending))
        {
            _returned = pending.Buffer;
            _returnedNothing = false;
            return new ReadResult(pending.Buffer, isCanceled: true, isCompleted: false);
        }

        _returnedNothing = true;
        return new ReadResult(ReadOnlySequence<byte>.Empty, isCanceled: true, isCompleted: false);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_returnedNothing)
        {
            return;
        }

        _wantsMore = examined.Equals(_returned.End);
        _payload.Reader.AdvanceTo(consumed, examined);
        _returned = default;
    }

    public override void CancelPendingRead() => frames.CancelPendingRead();

    /// <summary>The broker is done reading; <see cref="WebSocketPipe"/> keeps the frames to wait for the client's Close.</summary>
    public override void Complete(Exception? exception = null)
    {
        _payload.Reader.Complete();
        _payload.Writer.Complete();
        _payloadCompleted = true;
    }

    /// <summary>
    /// After the broker ended: reads and drops frames until the client's Close (answered if it was not already), the end
    /// of the connection or <paramref name="timeout"/>.
    /// </summary>
    public async Task AwaitCloseAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            while (!_ended)
            {
                var read = await frames.ReadAsync(deadline.Token).ConfigureAwait(false);
                await DecodeAsync(read, sink: null, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The client never closed: the connection is dropped.
        }
    }

    /// <summary>
    /// Decodes what arrived: payload bytes to <paramref name="sink"/> (or dropped), up to and including the first control
    /// frame, which is answered at once (the frames after it stay unexamined for the next read). Ends the input
    /// (<see cref="_ended"/>) at a Close, a refused frame or the end of the connection.
    /// </summary>
    private async ValueTask DecodeAsync(ReadResult read, IBufferWriter<byte>? sink, CancellationToken cancellationToken)
    {
        var reader = new SequenceReader<byte>(read.Buffer);
        if (!Decode(ref reader, sink, out var control))
        {
            frames.AdvanceTo(reader.Position, read.Buffer.End);
            if (read.IsCompleted)
            {
                // The connection ended (without a Close frame, or within one): for the broker, the client is gone.
                _ended = true;
            }

            return;
        }

        frames.AdvanceTo(reader.Position);
        await AnswerAsync(control.Opcode, control.Payload, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask AnswerAsync(WebSocketOpcode opcode, byte[] payload, CancellationToken cancellationToken)
    {
        switch (opcode)
        {
            case WebSocketOpcode.Ping:
                await output.SendControlAsync(WebSocketOpcode.Pong, payload, cancellationToken).ConfigureAwait(false);
                break;
            case WebSocketOpcode.Close:
                // The reply echoes the client's code (RFC 6455 §5.5.1), without its reason.
                CloseReceived = true;
                _ended = true;
                await output.SendControlAsync(WebSocketOpcode.Close, payload.Length >= 2 ? payload[..2] : [], cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Decodes frames until the data runs out (false) or a whole control frame other than Pong is read (true).</summary>
    private bool Decode(ref SequenceReader<byte> reader, IBufferWriter<byte>? sink, out (WebSocketOpcode Opcode, byte[] Payload) control)
    {
        control = default;
        while (!_ended)
        {
            if (_frameLeft == 0)
            {
                var headerStart = reader.Consumed;
                if (!TryStartFrame(ref reader, out var header))
                {
                    return false;
                }

                if (header.IsControl)
                {
                    if (reader.Remaining < header.Length)
                    {
                        // At most 125 bytes: read whole, header again included, once all of it arrived.
                        reader.Rewind(reader.Consumed - headerStart);
                        return false;
                    }

                    var payload = new byte[header.Length];
                    Unmask(reader.UnreadSequence.Slice(0, header.Length), payload, header.MaskKey, 0);
                    reader.Advance(header.Length);
                    if (header.Opcode != WebSocketOpcode.Pong)
                    {
                        control = (header.Opcode, payload);
                        return true;
                    }
                }

                continue;
            }

            var take = (int)Math.Min(_frameLeft, reader.Remaining);
            if (take == 0)
            {
                return false;
            }

            if (sink is not null)
            {
                foreach (var segment in reader.UnreadSequence.Slice(0, take))
                {
                    _maskOffset = Unmask(segment.Span, sink.GetSpan(segment.Length), _mask, _maskOffset);
                    sink.Advance(segment.Length);
                }
            }

            reader.Advance(take);
            _frameLeft -= take;
        }

        return false;
    }

    /// <summary>
    /// Reads the next frame's header and checks it against RFC 6455 and MQTT; a data frame's payload is then streamed
    /// through <see cref="_frameLeft"/>.
    /// </summary>
    private bool TryStartFrame(ref SequenceReader<byte> reader, out ClientFrameHeader header)
    {
        if (!ClientFrameHeader.TryRead(ref reader, out header, out var violation))
        {
            return false;
        }

        if (violation is not null)
        {
            return Refuse(WebSocketCloseCode.ProtocolError, violation);
        }

        if (header.IsControl)
        {
            return true;
        }

        if (header.Opcode == WebSocketOpcode.Continuation != _inMessage)
        {
            return Refuse(WebSocketCloseCode.ProtocolError, _inMessage ? "a new message before the last one ended" : "a continuation frame with no message to continue");
        }

        if (header.Opcode == WebSocketOpcode.Text)
        {
            return Refuse(WebSocketCloseCode.UnsupportedData, "MQTT needs binary frames");
        }

        _messageSize = _inMessage ? _messageSize + header.Length : header.Length;
        if (_messageSize > maximumMessageSize)
        {
            return Refuse(WebSocketCloseCode.MessageTooBig, "message larger than the maximum packet size");
        }

        _inMessage = !header.Final;
        _frameLeft = header.Length;
        _mask = header.MaskKey;
        _maskOffset = 0;
        return true;
    }

    private bool Refuse(WebSocketCloseCode code, string reason)
    {
        Refusal = (code, reason);
        _ended = true;
        return false;
    }

    /// <summary>XORs <paramref name="source"/> with the mask key (RFC 6455 §5.3) from <paramref name="offset"/>, eight bytes at a time.</summary>
    private static int Unmask(ReadOnlySpan<byte> source, Span<byte> target, uint key, int offset)
    {
        Span<byte> pattern = stackalloc byte[8];
        for (var i = 0; i < 8; i++)
        {
            pattern[i] = (byte)(key >> (24 - 8 * ((offset + i) & 3)));
        }

        var wide = MemoryMarshal.Read<ulong>(pattern);
        var index = 0;
        for (; index + 8 <= source.Length; index += 8)
        {
            MemoryMarshal.Write(target[index..], MemoryMarshal.Read<ulong>(source[index..]) ^ wide);
        }

        for (; index < source.Length; index++)
        {
            target[index] = (byte)(source[index] ^ pattern[index & 7]);
        }

        return (offset + source.Length) & 3;
    }

    private static void Unmask(ReadOnlySequence<byte> source, Span<byte> target, uint key, int offset)
    {
        foreach (var segment in source)
        {
            offset = Unmask(segment.Span, target, key, offset);
            target = target[segment.Length..];
        }
    }
}
