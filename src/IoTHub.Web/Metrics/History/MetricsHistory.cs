namespace IoTHub.Web.Metrics.History;

/// <summary>The values of some series over a range, oldest first: <see cref="Values"/>[series][point] was sampled at <see cref="Times"/>[point].</summary>
internal sealed record HistoryWindow(IReadOnlyList<DateTimeOffset> Times, IReadOnlyList<double[]> Values);

/// <summary>
/// The last 24 hours of the key series, one sample every <see cref="Interval"/>, in rings allocated once:
/// a time and a double per series for each of <see cref="Capacity"/> slots, so memory stays
/// (series + 1) × 8 640 × 8 bytes however long the server runs. The oldest sample is overwritten by the newest.
/// </summary>
internal sealed class MetricsHistory
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);
    public static readonly int Capacity = (int)(Retention / Interval);

    private readonly Lock _lock = new();
    private readonly long[] _utcTicks = new long[Capacity];
    private readonly double[][] _values;
    private int _next;
    private int _count;

    public MetricsHistory()
    {
        _values = new double[HistorySeries.All.Count][];
        for (var i = 0; i < _values.Length; i++)
        {
            _values[i] = new double[Capacity];
        }
    }

    /// <summary>Stores one sample: a value per series of <see cref="HistorySeries.All"/>, in that order.</summary>
    public void Add(DateTimeOffset at, ReadOnlySpan<double> values)
    {
        lock (_lock)
        {
            _utcTicks[_next] = at.UtcTicks;
            for (var i = 0; i < _values.Length; i++)
            {
                _values[i][_next] = values[i];
            }

            _next = (_next + 1) % Capacity;
            _count = Math.Min(_count + 1, Capacity);
        }
    }

    /// <summary>The samples of <paramref name="series"/> taken in the <paramref name="range"/> before <paramref name="now"/>, oldest first.</summary>
    public HistoryWindow Read(IReadOnlyList<HistorySeries> series, HistoryRange range, DateTimeOffset now)
    {
        var after = (now - range.Span).UtcTicks;
        lock (_lock)
        {
            // Walk back from the newest sample while it is inside the range.
            var points = 0;
            while (points < _count && points < range.Points && _utcTicks[Slot(points)] > after)
            {
                points++;
            }

            var times = new DateTimeOffset[points];
            var values = new double[series.Count][];
            for (var s = 0; s < series.Count; s++)
            {
                values[s] = new double[points];
            }

            for (var p = 0; p < points; p++)
            {
                var slot = Slot(points - 1 - p);
                times[p] = new DateTimeOffset(_utcTicks[slot], TimeSpan.Zero);
                for (var s = 0; s < series.Count; s++)
                {
                    values[s][p] = _values[series[s].Index][slot];
                }
            }

            return new HistoryWindow(times, values);
        }
    }

    // The slot of the sample taken `back` samples before the newest.
    private int Slot(int back) => ((_next - 1 - back) % Capacity + Capacity) % Capacity;
}
