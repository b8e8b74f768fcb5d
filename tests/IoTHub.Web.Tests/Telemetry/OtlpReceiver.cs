using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IoTHub.Web.Tests.Telemetry;

/// <summary>
/// A stand-in OpenTelemetry collector: a Kestrel server on a free loopback port that takes OTLP/HTTP exports (POST
/// {base}/v1/metrics and {base}/v1/traces, application/x-protobuf) or OTLP/gRPC ones (the Export calls of the metrics and
/// trace services over HTTP/2 without TLS), keeps what they carry and the headers they came with, and lets a test await an
/// item by a condition instead of sleeping.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    public const string BasePath = "/collector";

    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly List<OtlpMetric> _metrics = [];
    private readonly List<OtlpSpan> _spans = [];
    private readonly List<(Func<bool> Condition, TaskCompletionSource Done)> _waiters = [];

    private readonly bool _grpc;

    private OtlpReceiver(bool grpc)
    {
        _grpc = grpc;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = grpc ? HttpProtocols.Http2 : HttpProtocols.Http1));
        _app = builder.Build();
        Action<ReadOnlyMemory<byte>> metrics = body => _metrics.AddRange(OtlpRequests.Metrics(body));
        Action<ReadOnlyMemory<byte>> spans = body => _spans.AddRange(OtlpRequests.Spans(body));
        if (grpc)
        {
            _app.MapPost("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", context => ReceiveAsync(context, metrics));
            _app.MapPost("/opentelemetry.proto.collector.trace.v1.TraceService/Export", context => ReceiveAsync(context, spans));
        }
        else
        {
            _app.MapPost(BasePath + "/v1/metrics", context => ReceiveAsync(context, metrics));
            _app.MapPost(BasePath + "/v1/traces", context => ReceiveAsync(context, spans));
        }
    }

    /// <summary>Where an exporter sends: http://127.0.0.1:port/collector over HTTP, http://127.0.0.1:port over gRPC.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Every header name of every export, with the values sent (several exports: the last one).</summary>
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The content type of every export.</summary>
    public List<string> ContentTypes { get; } = [];

    /// <summary>Bodies that could not be read, by what went wrong.</summary>
    public List<string> Errors { get; } = [];

    public static OtlpReceiver Start(bool grpc = false)
    {
        var receiver = new OtlpReceiver(grpc);
        receiver._app.Start();
        var address = receiver._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        receiver.Endpoint = new Uri(address.TrimEnd('/') + (grpc ? string.Empty : BasePath));
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
                // A gRPC message comes framed: a compression flag (0: none) and its length, big-endian.
                keep(_grpc ? buffer.ToArray().AsMemory(5, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(buffer.ToArray().AsSpan(1, 4))) : buffer.ToArray());
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
        context.Response.StatusCode = StatusCodes.Status200OK;
        if (_grpc)
        {
            context.Response.ContentType = "application/grpc";
            await context.Response.Body.WriteAsync(new byte[5]);
            context.Response.AppendTrailer("grpc-status", "0");
        }
        else
        {
            context.Response.ContentType = "application/x-protobuf";
        }
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
