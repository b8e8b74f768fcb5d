namespace IoTHub.Web.Metrics.History;

/// <summary>A span of the metrics history that can be asked for: its name in the API (<c>15m</c>) and in the dashboard (<c>15 min</c>).</summary>
internal sealed record HistoryRange(string Name, string Label, TimeSpan Span)
{
    public static readonly HistoryRange FifteenMinutes = new("15m", "15 min", TimeSpan.FromMinutes(15));

    public static readonly IReadOnlyList<HistoryRange> All =
    [
        FifteenMinutes,
        new("1h", "1 h", TimeSpan.FromHours(1)),
        new("6h", "6 h", TimeSpan.FromHours(6)),
        new("24h", "24 h", MetricsHistory.Retention),
    ];

    /// <summary>The range named <paramref name="name"/> (<c>15m</c>, <c>1h</c>, <c>6h</c>, <c>24h</c>), or null.</summary>
    public static HistoryRange? Find(string name) => All.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.Ordinal));

    /// <summary>How many samples the range holds at most.</summary>
    public int Points => (int)(Span / MetricsHistory.Interval);
}
