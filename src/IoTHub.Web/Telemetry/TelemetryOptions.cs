using IoTHub.Web.Configuration;

namespace IoTHub.Web.Telemetry;

/// <summary>How OTLP carries the exports: protobuf over gRPC, or protobuf in HTTP POSTs to /v1/metrics and /v1/traces.</summary>
internal enum OtlpProtocol
{
    Grpc,
    HttpProtobuf,
}

/// <summary>
/// Section "Telemetry": the name the broker reports under, and the OTLP export beside /metrics (off unless
/// <c>Telemetry:Otlp:Endpoint</c> is set). Prometheus' /metrics is served either way.
/// </summary>
internal sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    /// <summary>The resource's service.name in every export.</summary>
    public string ServiceName { get; set; } = "iothub";

    public OtlpOptions Otlp { get; } = new();

    public void Read(SectionReader reader)
    {
        ServiceName = reader.NonEmptyText(nameof(ServiceName), ServiceName);
        var otlp = reader.Section(nameof(Otlp));
        Otlp.Read(otlp);
        otlp.RejectUnknownKeys();
    }
}

/// <summary>The keys of Telemetry:Otlp (docs/configuration.md#telemetry).</summary>
internal sealed class OtlpOptions
{
    /// <summary>Above the longest a collector should wait between two pushes of cumulative counters.</summary>
    public const int MaximumExportIntervalMilliseconds = 3_600_000;

    /// <summary>The collector's base URL (e.g. http://collector:4318); null: no OTLP export.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>
    /// HTTP by default: the protocol the OpenTelemetry specification recommends as an exporter's default, and the one that
    /// passes ordinary HTTP proxies and load balancers.
    /// </summary>
    public OtlpProtocol Protocol { get; set; } = OtlpProtocol.HttpProtobuf;

    /// <summary>Sent with every export (e.g. a vendor's API key); the values are never logged nor shown.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; set; } = [];

    /// <summary>How often metrics are pushed, and the longest a finished span waits before it is sent.</summary>
    public int ExportIntervalMilliseconds { get; set; } = 10_000;

    /// <summary>Whether spans are exported too (MQTT CONNECT, admin API requests), not only metrics.</summary>
    public bool Traces { get; set; } = true;

    public bool Enabled => Endpoint is not null;

    public void Read(SectionReader reader)
    {
        Endpoint = reader.Read(nameof(Endpoint), (Uri?)null, static (string raw, out Uri? url) =>
        {
            url = null;
            return raw.Length == 0 || OutgoingHttp.TryParseUrl(raw, out url);
        }, OutgoingHttp.UrlProblem + " Empty: no OTLP export.");
        Protocol = reader.Choice(nameof(Protocol), Protocol);
        Headers = OutgoingHttp.ReadHeaders(reader);
        foreach (var (name, value) in Headers)
        {
            // The exporter splits its one "name=value,..." text at every comma, even an encoded one.
            if (value.Contains(',', StringComparison.Ordinal))
            {
                reader.Fail($"{OutgoingHttp.HeadersKey}:{name}", "holds a comma, which the OTLP exporter cannot send (the value is not shown: it may be a secret).");
            }
        }

        ExportIntervalMilliseconds = (int)reader.Number(nameof(ExportIntervalMilliseconds), ExportIntervalMilliseconds, 100, MaximumExportIntervalMilliseconds);
        Traces = reader.Flag(nameof(Traces), Traces);
    }
}
