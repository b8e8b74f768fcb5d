using System.Globalization;
using System.Text;
using IoTHub.Web.Api;
using IoTHub.Web.Configuration;
using IoTHub.Web.Hosting;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.WebSecurity;

/// <summary>
/// The headers that tell browsers how to treat every answer of the HTTP endpoint (dashboard, API, Swagger UI, metrics):
/// a Content-Security-Policy that lets pages load and run only the host's own files (Blazor's script and its circuit
/// WebSocket included), talk only to the host (its own port, and its ws:// and wss:// listeners) and be framed by no
/// one, the older X-Frame-Options for the same, no MIME sniffing, no referrer sent to other sites, and over HTTPS
/// Strict-Transport-Security. Answers of the ws:// and wss:// listeners and of MQTT over WebSocket at "Http:MqttPath"
/// come before this (they are not documents) and carry none of these.
/// </summary>
internal static class SecurityHeaders
{
    /// <summary>
    /// Blazor Server needs no inline script, eval or inline style: blazor.web.js is a file, the circuit is a WebSocket to
    /// the same host and port ('self' covers ws: and wss: there, CSP 3), and the reconnect dialog is ours (App.razor), so
    /// Blazor injects no style element. Charts are inline SVG; data: images are the Swagger UI's icons. This is the
    /// policy of a host without ws:// or wss:// listeners.
    /// </summary>
    public const string ContentSecurityPolicy = BeforeConnectSources + AfterConnectSources + Styles;

    /// <summary>The Swagger UI's script adds style elements of its own: its pages may use inline styles (never inline scripts).</summary>
    public const string SwaggerUiContentSecurityPolicy = BeforeConnectSources + AfterConnectSources + SwaggerUiStyles;

    private const string BeforeConnectSources = "default-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'";
    private const string AfterConnectSources = "; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
    private const string Styles = "; style-src 'self'";
    private const string SwaggerUiStyles = "; style-src 'self' 'unsafe-inline'";

    public static WebApplication UseSecurityHeaders(this WebApplication app)
    {
        // Read with the first request: the settings are validated when the host starts, after the pipeline is built,
        // and the listeners' ports are known once they are bound.
        var http = app.Services.GetRequiredService<IOptions<HttpOptions>>();
        var bound = app.Services.GetRequiredService<BoundListeners>();
        string? strictTransportSecurity = null;
        List<BoundMqttListener>? webSockets = null;
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            bool swaggerUi = context.Request.Path.StartsWithSegments(OpenApiSetup.UiPath);
            webSockets ??= [.. bound.Mqtt.Where(static listener => listener.Listener.IsWebSocket && !listener.OnHttpEndpoint)];
            headers.ContentSecurityPolicy = webSockets.Count == 0 ? (swaggerUi ? SwaggerUiContentSecurityPolicy : ContentSecurityPolicy)
                : WithWebSocketListeners(context.Request.Host, webSockets, swaggerUi);
            headers.XFrameOptions = "DENY";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";

            // RFC 6797 §7.2: only over a secure connection. Without includeSubDomains: other hosts of the domain are not ours.
            if (context.Request.IsHttps && http.Value.HstsMaxAge > TimeSpan.Zero)
            {
                headers.StrictTransportSecurity = strictTransportSecurity ??= "max-age=" + ((long)http.Value.HstsMaxAge.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            }

            return next(context);
        });
        return app;
    }

    /// <summary>
    /// The policy that also lets pages connect to the host's ws:// and wss:// listeners (other ports are other origins, which
    /// 'self' does not cover), under the host name the page was loaded by (e.g. ws://broker.example.com:8083), so that a
    /// page served by the host can use them; a name that is no DNS name or IP address adds nothing.
    /// </summary>
    private static string WithWebSocketListeners(HostString host, List<BoundMqttListener> webSockets, bool swaggerUi)
    {
        var policy = new StringBuilder(BeforeConnectSources, 320);
        if (Uri.CheckHostName(host.Host.Trim('[', ']')) is UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6)
        {
            foreach (var listener in webSockets)
            {
                if (listener.Port is { } port)
                {
                    policy.Append(listener.Listener.Scheme == ListenerScheme.Wss ? " wss://" : " ws://").Append(host.Host).Append(':')
                        .Append(port.ToString(CultureInfo.InvariantCulture));
                }
            }
        }

        return policy.Append(AfterConnectSources).Append(swaggerUi ? SwaggerUiStyles : Styles).ToString();
    }
}
