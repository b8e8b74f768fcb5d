using System.Globalization;
using IoTHub.Web.Api;
using IoTHub.Web.Configuration;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.WebSecurity;

/// <summary>
/// The headers that tell browsers how to treat every answer of the HTTP endpoint (dashboard, API, Swagger UI, metrics):
/// a Content-Security-Policy that lets pages load and run only the host's own files (Blazor's script and its circuit
/// WebSocket included) and be framed by no one, the older X-Frame-Options for the same, no MIME sniffing, no referrer
/// sent to other sites, and over HTTPS Strict-Transport-Security. Answers of the ws:// and wss:// listeners and of
/// MQTT over WebSocket at "Http:MqttPath" come before this (they are not documents) and carry none of these.
/// </summary>
internal static class SecurityHeaders
{
    /// <summary>
    /// Blazor Server needs no inline script, eval or inline style: blazor.web.js is a file, the circuit is a WebSocket to
    /// the same host and port ('self' covers ws: and wss: there, CSP 3), and the reconnect dialog is ours (App.razor), so
    /// Blazor injects no style element. Charts are inline SVG; data: images are the Swagger UI's icons.
    /// </summary>
    public const string ContentSecurityPolicy = Scripts + "; style-src 'self'";

    /// <summary>The Swagger UI's script adds style elements of its own: its pages may use inline styles (never inline scripts).</summary>
    public const string SwaggerUiContentSecurityPolicy = Scripts + "; style-src 'self' 'unsafe-inline'";

    private const string Scripts = "default-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
        + "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    public static WebApplication UseSecurityHeaders(this WebApplication app)
    {
        // Read with the first request: the settings are validated when the host starts, after the pipeline is built.
        var http = app.Services.GetRequiredService<IOptions<HttpOptions>>();
        string? strictTransportSecurity = null;
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments(OpenApiSetup.UiPath) ? SwaggerUiContentSecurityPolicy : ContentSecurityPolicy;
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
}
