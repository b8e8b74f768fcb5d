using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using IoTHub.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IoTHub.Interop.Tests.Security;

/// <summary>What the <see cref="WebhookServer"/> answers.</summary>
public enum WebhookAnswer
{
    Allow,
    Deny,
    Ignore,

    /// <summary>204 No Content (an allow).</summary>
    NoContent,

    /// <summary>500 Internal Server Error.</summary>
    Error,

    /// <summary>200 with a body that is not JSON.</summary>
    Garbage,

    /// <summary>Nothing until <see cref="WebhookServer.Release"/>, then allow.</summary>
    Slow,

    /// <summary>Allow with <c>is_superuser</c> true.</summary>
    Superuser,

    /// <summary>Allow with <see cref="WebhookServer.DeviceAcl"/>.</summary>
    Acl,

    /// <summary>Allow with an <c>acl</c> whose rule has EMQX's <c>qos</c> condition, which the broker does not read.</summary>
    BadAcl,
}

/// <summary>
/// An authentication webhook on real Kestrel, on a loopback port: it records each request and answers by the user name's
/// first word ("allow-...", "deny-...", "slow-...", "super-...", "acl-..."; any other name: ignore), or as
/// <see cref="AnswerAll"/> says when set.
/// </summary>
public sealed class WebhookServer : IDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(JsonElement Body, Dictionary<string, string> Headers)> _requests = new();
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _slowArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="certificate">Serves https with this certificate; null: http.</param>
    public WebhookServer(PemFiles? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(X509Certificate2.CreateFromPemFile(certificate.Certificate, certificate.Key));
            }
        }));
        _app = builder.Build();
        _app.MapPost("/mqtt/auth", AnswerAsync);
        _app.StartAsync().GetAwaiter().GetResult(); // a fixture cannot await
        var address = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        Url = new Uri($"{address}/mqtt/auth?token={Token}");
    }

    /// <summary>
    /// The rules an "acl-..." user gets, in EMQX's form: publish to its own <c>devices/${clientid}/#</c> but not to its
    /// <c>secret</c> topic, subscribe to the filter <c>devices/+/status</c> itself (<c>eq</c>), and both on <c>users/${username}</c>.
    /// </summary>
    public static readonly object[] DeviceAcl =
    [
        new { permission = "allow", action = "publish", topic = "devices/${clientid}/#" },
        new { permission = "deny", action = "publish", topic = "devices/${clientid}/secret" },
        new { permission = "allow", action = "subscribe", topic = "eq devices/+/status" },
        new { permission = "allow", action = "all", topics = new[] { "users/${username}" } },
    ];

    /// <summary>A secret in the URL's query, as some services take one: it must never reach the broker's log.</summary>
    public const string Token = "webhook-query-token-7f3a";

    public Uri Url { get; }

    /// <summary>When set, every request gets this answer, whatever the user name.</summary>
    public WebhookAnswer? AnswerAll { get; set; }

    /// <summary>Completed when a request to be answered <see cref="WebhookAnswer.Slow"/> has arrived.</summary>
    public Task SlowArrived => _slowArrived.Task;

    /// <summary>The requests so far about <paramref name="userName"/>, in order.</summary>
    public List<JsonElement> Requests(string? userName) => [.. _requests.Where(r => r.Body.GetProperty("userName").GetString() == userName).Select(static r => r.Body)];

    /// <summary>The headers of each request about <paramref name="userName"/>, in order.</summary>
    public List<Dictionary<string, string>> Headers(string? userName) =>
        [.. _requests.Where(r => r.Body.GetProperty("userName").GetString() == userName).Select(static r => r.Headers)];

    /// <summary>Lets the slow requests be answered.</summary>
    public void Release() => _released.TrySetResult();

    public void Dispose()
    {
        Release();
        _app.StopAsync().GetAwaiter().GetResult();
        ((IDisposable)_app).Dispose();
    }

    private async Task AnswerAsync(HttpContext context)
    {
        if (context.Request.ContentLength is null)
        {
            // As simple services do (Python's http.server reads Content-Length): a chunked body is not read.
            context.Response.StatusCode = StatusCodes.Status411LengthRequired;
            return;
        }

        var request = await JsonSerializer.DeserializeAsync<JsonElement>(context.Request.Body);
        _requests.Enqueue((request, context.Request.Headers.ToDictionary(static h => h.Key, static h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
        var answer = AnswerAll ?? (request.GetProperty("userName").GetString()?.Split('-')[0]) switch
        {
            "allow" => WebhookAnswer.Allow,
            "deny" => WebhookAnswer.Deny,
            "nocontent" => WebhookAnswer.NoContent,
            "error" => WebhookAnswer.Error,
            "garbage" => WebhookAnswer.Garbage,
            "slow" => WebhookAnswer.Slow,
            "super" => WebhookAnswer.Superuser,
            "acl" => WebhookAnswer.Acl,
            "badacl" => WebhookAnswer.BadAcl,
            _ => WebhookAnswer.Ignore,
        };
        switch (answer)
        {
            case WebhookAnswer.NoContent:
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            case WebhookAnswer.Error:
                context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                return;
            case WebhookAnswer.Garbage:
                await context.Response.WriteAsync("<html>not an answer</html>");
                return;
            case WebhookAnswer.Slow:
                _slowArrived.TrySetResult();
                await _released.Task;
                break;
        }

        // EMQX's shape: is_superuser and acl come along.
        var result = answer switch { WebhookAnswer.Deny => "deny", WebhookAnswer.Ignore => "ignore", _ => "allow" };
        var acl = answer switch
        {
            WebhookAnswer.Acl => DeviceAcl,
            WebhookAnswer.BadAcl => [new { permission = "allow", action = "publish", topic = "t/#", qos = new[] { 0, 1 } }],
            _ => Array.Empty<object>(),
        };
        await context.Response.WriteAsJsonAsync(new Dictionary<string, object> { ["result"] = result, ["is_superuser"] = answer == WebhookAnswer.Superuser, ["acl"] = acl });
    }
}
