using System.Globalization;
using static IoTHub.Web.Tests.Telemetry.ProtobufFields;

namespace IoTHub.Web.Tests.Telemetry;

/// <summary>A metric of an OTLP export: its name, the scope (meter) that made it, the resource that sent it, and the sum of its points (a sum's or a gauge's; 0 for others).</summary>
internal sealed record OtlpMetric(string Name, string Scope, IReadOnlyDictionary<string, string> Resource, double Total);

/// <summary>A span of an OTLP export, its attributes as text.</summary>
internal sealed record OtlpSpan(string Name, string Scope, IReadOnlyDictionary<string, string> Attributes, IReadOnlyDictionary<string, string> Resource);

/// <summary>
/// Reads the bodies of OTLP/HTTP exports (opentelemetry-proto): ExportMetricsServiceRequest and ExportTraceServiceRequest,
/// only the fields the tests look at.
/// </summary>
internal static class OtlpRequests
{
    // ExportMetricsServiceRequest.resource_metrics, ExportTraceServiceRequest.resource_spans.
    private const int ResourceEntries = 1;
    private const int Resource = 1;
    private const int ScopeEntries = 2;
    private const int Scope = 1;
    private const int ScopeName = 1;
    private const int Items = 2;
    private const int MetricName = 1;
    private const int SpanName = 5;
    private const int SpanAttributes = 9;
    private const int ResourceAttributes = 1;

    // Metric.gauge and Metric.sum, each with data_points = 1 of NumberDataPoint: as_double = 4, as_int = 6.
    private const int Gauge = 5;
    private const int Sum = 7;
    private const int DataPoints = 1;
    private const int AsDouble = 4;
    private const int AsInt = 6;

    public static List<OtlpMetric> Metrics(ReadOnlyMemory<byte> body) =>
        Walk(body, static (item, scope, resource) => new OtlpMetric(Text(item, MetricName), scope, resource, Total(item)));

    public static List<OtlpSpan> Spans(ReadOnlyMemory<byte> body) =>
        Walk(body, static (item, scope, resource) => new OtlpSpan(Text(item, SpanName), scope, Attributes(item, SpanAttributes), resource));

    private static List<T> Walk<T>(ReadOnlyMemory<byte> body, Func<ReadOnlyMemory<byte>, string, IReadOnlyDictionary<string, string>, T> make)
    {
        List<T> found = [];
        foreach (var entry in Messages(body, ResourceEntries))
        {
            var resource = Messages(entry, Resource).Select(static r => Attributes(r, ResourceAttributes)).FirstOrDefault() ?? new Dictionary<string, string>();
            foreach (var scoped in Messages(entry, ScopeEntries))
            {
                var scope = Messages(scoped, Scope).Select(static s => Text(s, ScopeName)).FirstOrDefault() ?? string.Empty;
                found.AddRange(Messages(scoped, Items).Select(item => make(item, scope, resource)));
            }
        }

        return found;
    }

    private static double Total(ReadOnlyMemory<byte> metric)
    {
        double total = 0;
        foreach (var points in Read(metric).Where(static f => f.Tag is Gauge or Sum).SelectMany(static f => Messages(f.Bytes, DataPoints)))
        {
            foreach (var value in Read(points))
            {
                total += value.Tag switch
                {
                    AsDouble => BitConverter.ToDouble(value.Bytes.Span),
                    AsInt => BitConverter.ToInt64(value.Bytes.Span),
                    _ => 0,
                };
            }
        }

        return total;
    }

    private static string Text(ReadOnlyMemory<byte> message, int tag) => Read(message).LastOrDefault(f => f.Tag == tag).Text;

    /// <summary>KeyValue (key = 1, value = 2) with AnyValue: string_value = 1, bool_value = 2, int_value = 3; other kinds are left out.</summary>
    private static Dictionary<string, string> Attributes(ReadOnlyMemory<byte> message, int tag)
    {
        Dictionary<string, string> attributes = new(StringComparer.Ordinal);
        foreach (var pair in Messages(message, tag))
        {
            var fields = Read(pair);
            var key = fields.Single(static f => f.Tag == 1).Text;
            var value = fields.Where(static f => f.Tag == 2).Select(static f => Read(f.Bytes).FirstOrDefault()).FirstOrDefault();
            attributes[key] = value.Tag switch
            {
                1 => value.Text,
                2 => value.Number != 0 ? "true" : "false",
                3 => ((long)value.Number).ToString(CultureInfo.InvariantCulture),
                _ => string.Empty,
            };
        }

        return attributes;
    }
}
