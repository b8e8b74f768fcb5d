using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace IoTHub.Web.Transports.WebSockets;

/// <summary>
/// MQTT over a WebSocket that this server frames itself (RFC 6455) on the connection's upgraded stream, with no
/// WebSocket object and no pipe pair in between: the broker's reads decode the client's frames
/// (<see cref="WebSocketMessageReader"/>) and its flushes send its frames (<see cref="WebSocketMessageWriter"/>).
/// When the broker ends, the WebSocket is closed (with the reason the input was refused, if it was) and the
/// client's Close awaited for <see cref="CloseTimeout"/>.
/// </summary>
internal sealed class WebSocketPipe : IDuplexPipe
{
    /// <summary>How long a closed connection waits for the client's close frame before the socket is dropped.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private readonly WebSocketMessageReader _input;
    private readonly WebSocketMessageWriter _output;

    private WebSocketPipe(WebSocketMessageReader input, WebSocketMessageWriter output)
    {
        _input = input;
        _output = output;
    }

    public PipeReader Input => _input;

    public PipeWriter Output => _output;

    /// <summary>
    /// Accepts the WebSocket with <paramref name="subProtocol"/> (HTTP/1.1 Upgrade, RFC 6455 §4.2.2, or HTTP/2 extended
    /// CONNECT, RFC 8441 §5) and serves it with <paramref name="serve"/> (the broker) until both are done.
    /// </summary>
    public static async Task RunAsync(HttpContext context, string subProtocol, long maximumMessageSize, Func<IDuplexPipe, Task> serve)
    {
        var connection = await AcceptAsync(context, subProtocol);

        // After an HTTP/1.1 upgrade the connection is the WebSocket's alone: its frames are read and written on the
        // connection's own pipes, as a tcp client's packets are. HTTP/2 carries them in DATA frames of the stream.
        var transport = HttpProtocol.IsHttp11(context.Request.Protocol) ? context.Features.Get<IConnectionTransportFeature>()?.Transport : null;
        var frames = transport?.Input ?? PipeReader.Create(connection, new StreamPipeReaderOptions(leaveOpen: true, useZeroByteReads: true));
        using var output = transport is null ? new WebSocketMessageWriter(connection) : new WebSocketMessageWriter(transport.Output);
        var input = new WebSocketMessageReader(frames, output, maximumMessageSize);
        await serve(new WebSocketPipe(input, output));

        var (code, reason) = input.Refusal ?? (WebSocketCloseCode.Normal, null!);
        await output.SendControlAsync(WebSocketOpcode.Close, ServerFrames.ClosePayload(code, reason));
        if (!input.CloseReceived)
        {
            await input.AwaitCloseAsync(CloseTimeout);
        }

        if (transport is null)
        {
            await frames.CompleteAsync();
        }
    }

    private static async Task<Stream> AcceptAsync(HttpContext context, string subProtocol)
    {
        var headers = context.Response.Headers;
        headers.SecWebSocketProtocol = subProtocol;
        if (context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect)
        {
            return await connect.AcceptAsync();
        }

        headers.Connection = "Upgrade";
        headers.Upgrade = "websocket";
        headers.SecWebSocketAccept = ServerFrames.Accept(context.Request.Headers.SecWebSocketKey.ToString());
        return await context.Features.GetRequiredFeature<IHttpUpgradeFeature>().UpgradeAsync();
    }
}
