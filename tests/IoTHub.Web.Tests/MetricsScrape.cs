using System.Globalization;
using System.Text.RegularExpressions;

namespace IoTHub.Web.Tests;

/// <summary>Reads /metrics into series and values, the series named as Prometheus users write them.</summary>
internal static partial class MetricsScrape
{
    public static async Task<Dictionary<string, double>> ReadAsync(HttpClient client)
    {
        var text = await client.GetStringAsync("/metrics");
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            // OpenTelemetry adds otel_scope_* labels; leave them out so the tests name series as Prometheus users do.
            var series = ScopeLabel().Replace(line[..space], string.Empty).Replace("{}", string.Empty, StringComparison.Ordinal);
            if (double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                samples[series] = value;
            }
        }

        return samples;
    }

    [GeneratedRegex("otel_scope_[a-z_]+=\"[^\"]*\",?")]
    private static partial Regex ScopeLabel();
}
