using System.Net;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Security.Certificates;
using IoTHub.Web.Configuration;
using IoTHub.Web.Hosting;
using IoTHub.Web.Mqtt;

namespace IoTHub.Web.Transports.WebSockets;

/// <summary>
/// MQTT over WebSocket (MQTT 5.0 §6) on the ws:// and wss:// listeners (which serve nothing else) and at
/// "Http:MqttPath" on the HTTP endpoint, for the default broker. ASP.NET Core's WebSocket middleware recognises the
/// handshake; the answer and the frames are this server's own (<see cref="WebSocketPipe"/>).
/// </summary>
internal static class MqttWebSockets
{
    /// <summary>
    /// The sub-protocols a client may ask for, any of which is echoed: "mqtt" is the one MQTT 3.1.1 and 5.0 name
    /// [MQTT-6.0.0-3], [MQTT-6.0.0-4]; old clients ask for "mqttv3.1" (as Mosquitto and VerneMQ accept), some for
    /// "mqtt-v3", "mqtt-v3.1.1" or "mqtt-v5" (as EMQX accepts).
    /// </summary>
    public static readonly string[] SubProtocols = ["mqtt", "mqttv3.1", "mqtt-v3", "mqtt-v3.1.1", "mqtt-v5"];

    /// <summary>First in the pipeline: WebSocket listeners must never reach the dashboard or the API.</summary>
    public static WebApplication UseMqttWebSockets(this WebApplication app)
    {
        app.UseWebSockets();
        app.UseMiddleware<MqttWebSocketMiddleware>();
        return app;
    }

    /// <summary>The client's first choice among <see cref="SubProtocols"/>, or null when it offers none of them.</summary>
    public static string? ChooseSubProtocol(IList<string> offered)
    {
        foreach (var protocol in offered)
        {
            if (SubProtocols.Contains(protocol, StringComparer.OrdinalIgnoreCase))
            {
                return protocol;
            }
        }

        return null;
    }
}

internal sealed class MqttWebSocketMiddleware(RequestDelegate next, BoundListeners listeners, BrokerRegistry brokers)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (listeners.WebSocketAt(context.Connection.LocalPort) is { } bound)
        {
            return ServeAsync(context, bound.Broker, bound.Listener, bound.Url);
        }

        if (listeners.OnHttpEndpoint is { } http && context.Request.Path.Equals(http.Listener.Path, StringComparison.OrdinalIgnoreCase))
        {
            return ServeAsync(context, http.Broker, http.Listener, http.Url);
        }

        return next(context);
    }

    private async Task ServeAsync(HttpContext context, string brokerName, MqttListenerUrl listener, string name)
    {
        var settings = listener.WebSocket!;
        string? subProtocol;
        if (!context.Request.Path.Equals(listener.Path, StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
        }
        else if (!context.WebSockets.IsWebSocketRequest)
        {
            await Results.Problem("This path serves MQTT over WebSocket only.", statusCode: StatusCodes.Status400BadRequest).ExecuteAsync(context);
        }
        else if (!settings.AllowsOrigin(context.Request))
        {
            await Results.Problem($"Pages from {context.Request.Headers.Origin} may not connect (AllowedOrigins).", statusCode: StatusCodes.Status403Forbidden)
                .ExecuteAsync(context);
        }
        else if ((subProtocol = MqttWebSockets.ChooseSubProtocol(context.WebSockets.WebSocketRequestedProtocols)) is null)
        {
            await Results.Problem($"Ask for the WebSocket sub-protocol \"mqtt\" (or one of {string.Join(", ", MqttWebSockets.SubProtocols)}).",
                statusCode: StatusCodes.Status400BadRequest).ExecuteAsync(context);
        }
        else
        {
            var broker = brokers[brokerName];
            var connection = context.Connection;
            var info = new Broker.Connections.ConnectionInfo(name, context.Request.IsHttps ? TransportKind.SecureWebSocket : TransportKind.WebSocket,
                new IPEndPoint(connection.LocalIpAddress!, connection.LocalPort),
                settings.ClientEndPoint(context),
                connection.ClientCertificate)
            {
                AllowAnonymous = listener.AllowAnonymous,
                CertificateIdentity = listener.Tls?.CertificateIdentity ?? CertificateIdentity.None,
            };
            await WebSocketPipe.RunAsync(context, subProtocol, broker.Options.MaximumPacketSize, pipe => broker.HandleConnectionAsync(pipe, info));
        }
    }
}
