using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IoTHub.Web.Tests.Telemetry;

/// <summary>
/// A stand-in OpenTelemetry collector: a Kestrel server on a free loopback port that takes OTLP/HTTP exports (POST
/// {base}/v1/metrics and {base}/v1/traces, application/x-protobuf), keeps what they carry and the headers they came
/// with, and lets a test await an item by a condition instead of sleeping.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    public const string BasePath = "/collector";

    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly List<OtlpMetric> _metrics = [];
    private readonly List<OtlpSpan> _spans = [];
    private readonly List<(Func<bool> Condition, TaskCompletionSource Done)> _waiters = [];

    private OtlpReceiver()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(static kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.MapPost(BasePath + "/v1/metrics", context => ReceiveAsync(context, body => _metrics.AddRange(OtlpRequests.Metrics(body))));
        _app.MapPost(BasePath + "/v1/traces", context => ReceiveAsync(context, body => _spans.AddRange(OtlpRequests.Spans(body))));
    }

    /// <summary>Where an exporter sends: http://127.0.0.1:port/collector.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Every header name of every export, with the values sent (several exports: the last one).</summary>
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The content type of every export.</summary>
    public List<string> ContentTypes { get; } = [];

    /// <summary>Bodies that could not be read, by what went wrong.</summary>
    public List<string> Errors { get; } = [];

    public static OtlpReceiver Start()
    {
        var receiver = new OtlpReceiver();
        receiver._app.Start();
        var address = receiver._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        receiver.Endpoint = new Uri(address.TrimEnd('/') + BasePath);
        return receiver;
    }

    public List<OtlpMetric> Metrics
    {
        get
        {
            lock (_lock)
            {
                return [.. _metrics];
            }
        }
    }

    public List<OtlpSpan> Spans
    {
        get
        {
            lock (_lock)
            {
                return [.. _spans];
            }
        }
    }

    /// <summary>Completes once <paramref name="condition"/> holds for what has arrived; fails after <paramref name="timeout"/>, saying what.</summary>
    public async Task WaitForAsync(string what, Func<OtlpReceiver, bool> condition, TimeSpan timeout)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (condition(this))
            {
                return;
            }

            _waiters.Add((() => condition(this), done));
        }

        try
        {
            await done.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the collector got no {what} within {timeout.TotalSeconds} s: metrics {string.Join(", ", Metrics.Select(static m => m.Name).Distinct())}; "
                + $"spans {string.Join(", ", Spans.Select(static s => s.Name).Distinct())}; unreadable bodies {string.Join("; ", Errors)}");
        }
    }

    private async Task ReceiveAsync(HttpContext context, Action<ReadOnlyMemory<byte>> keep)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        lock (_lock)
        {
            ContentTypes.Add(context.Request.ContentType ?? "(none)");
            foreach (var (name, values) in context.Request.Headers)
            {
                Headers[name] = values.ToString();
            }

            try
            {
                keep(buffer.ToArray());
            }
            catch (Exception ex) when (ex is InvalidDataException or ArgumentException or IndexOutOfRangeException or OverflowException or InvalidOperationException)
            {
                Errors.Add($"{context.Request.Path}: {ex.Message}");
            }

            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition())
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }

        // An empty ExportMetricsServiceResponse / ExportTraceServiceResponse: everything accepted.
        context.Response.ContentType = "application/x-protobuf";
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
