using System.Text;

namespace IoTHub.Web.Metrics;

/// <summary>
/// With clustering, every series /metrics serves carries <c>node="&lt;this node's name&gt;"</c> (its advertised address and
/// port, as in GET /api/v1/cluster), so the scrapes of several nodes stay apart when summed. The OpenTelemetry Prometheus
/// exporter has no constant labels (resource attributes go to <c>target_info</c> only), so the label is written into each
/// sample line of the scrape, once per scrape: nothing is added per message. Without clustering there is no label.
/// </summary>
internal sealed class NodeLabel(string node)
{
    private readonly string _label = $"node=\"{node.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"";

    /// <summary>The Prometheus (or OpenMetrics) text with the label added to every sample; comments and blank lines as they were.</summary>
    public string AddTo(string exposition)
    {
        var text = new StringBuilder(exposition.Length + exposition.Length / 4);
        foreach (var line in exposition.AsSpan().EnumerateLines())
        {
            // A sample is "name{labels} value" or "name value": the name ends at the first '{' or space.
            var end = line.IndexOfAny('{', ' ');
            if (line.IsEmpty || line[0] == '#' || end < 0)
            {
                text.Append(line);
            }
            else if (line[end] == '{')
            {
                text.Append(line[..(end + 1)]).Append(_label).Append(line[(end + 1)..].StartsWith('}') ? string.Empty : ",").Append(line[(end + 1)..]);
            }
            else
            {
                text.Append(line[..end]).Append('{').Append(_label).Append('}').Append(line[end..]);
            }

            text.Append('\n');
        }

        // EnumerateLines yields an empty last line for a text ending in '\n', which added one '\n' too many.
        text.Length--;
        return text.ToString();
    }

    /// <summary>The scrape endpoint's middleware: the exporter writes into a buffer, the labelled text goes out.</summary>
    public async Task LabelScrapeAsync(HttpContext context, RequestDelegate next)
    {
        var response = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = response;
        }

        var labelled = Encoding.UTF8.GetBytes(AddTo(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length)));
        context.Response.ContentLength = labelled.Length;
        await response.WriteAsync(labelled, context.RequestAborted);
    }
}
