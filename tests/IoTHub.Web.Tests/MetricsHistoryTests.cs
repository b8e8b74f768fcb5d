using IoTHub.Web.Dashboard.Components;
using IoTHub.Web.Metrics.History;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Web.Tests;

/// <summary>The rings of the metrics history, filled at the pace of a clock moved by the test (a sample per 10 s).</summary>
public sealed class MetricsHistoryTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 0, 0, 0, TimeSpan.Zero));
    private readonly MetricsHistory _history = new();
    private int _added;

    [Fact]
    public void A_range_holds_the_samples_of_its_span_oldest_first()
    {
        AddSamples(1000);

        var window = _history.Read([HistorySeries.MessagesIn, HistorySeries.Connections], Range("15m"), _time.GetUtcNow());

        Assert.Equal(90, window.Times.Count);
        Assert.Equal(Enumerable.Range(911, 90).Select(static i => (double)i), window.Values[0]);
        Assert.Equal(Enumerable.Range(911, 90).Select(static i => -(double)i), window.Values[1]);
        Assert.Equal(_time.GetUtcNow(), window.Times[^1]);
        Assert.Equal(_time.GetUtcNow() - TimeSpan.FromSeconds(890), window.Times[0]);
        Assert.Equal(360, _history.Read([HistorySeries.MessagesIn], Range("1h"), _time.GetUtcNow()).Times.Count);
    }

    [Fact]
    public void A_server_younger_than_the_range_has_only_its_own_samples()
    {
        AddSamples(7);

        var window = _history.Read([HistorySeries.MessagesIn], Range("6h"), _time.GetUtcNow());

        Assert.Equal([1, 2, 3, 4, 5, 6, 7], window.Values[0]);
    }

    [Fact]
    public void After_24_hours_the_newest_sample_overwrites_the_oldest()
    {
        AddSamples(MetricsHistory.Capacity + 25);

        var window = _history.Read([HistorySeries.MessagesIn], Range("24h"), _time.GetUtcNow());

        Assert.Equal(MetricsHistory.Capacity, window.Times.Count);
        Assert.Equal(26, window.Values[0][0]);
        Assert.Equal(MetricsHistory.Capacity + 25, window.Values[0][^1]);
        Assert.All(window.Times.Zip(window.Times.Skip(1)), static pair => Assert.Equal(MetricsHistory.Interval, pair.Second - pair.First));
    }

    [Fact]
    public void Samples_older_than_the_range_are_left_out_after_a_pause()
    {
        AddSamples(10);
        _time.Advance(TimeSpan.FromMinutes(20)); // the process was suspended, no sample was taken
        AddSamples(3);

        Assert.Equal([11, 12, 13], _history.Read([HistorySeries.MessagesIn], Range("15m"), _time.GetUtcNow()).Values[0]);
        Assert.Equal(13, _history.Read([HistorySeries.MessagesIn], Range("1h"), _time.GetUtcNow()).Times.Count);
    }

    [Fact]
    public void A_long_range_is_charted_by_its_peaks_ending_with_the_newest_value()
    {
        Assert.Equal([1, 9, 7], ChartSeries.Peaks([1, 3, 2, 9, 5, 4, 7], perPoint: 3));
        Assert.Equal([5, 7], ChartSeries.Peaks([5, 1, 2, 7], perPoint: 2));
        Assert.Equal([1.0, 2.0], ChartSeries.Peaks([1.0, 2.0], perPoint: 1));
    }

    private static HistoryRange Range(string name) => HistoryRange.Find(name)!;

    // Sample i (from 1) has messages_in = i and connections = -i, taken 10 s after the previous one.
    private void AddSamples(int count)
    {
        var values = new double[HistorySeries.All.Count];
        for (var i = _added + 1; i <= _added + count; i++)
        {
            _time.Advance(MetricsHistory.Interval);
            values[HistorySeries.MessagesIn.Index] = i;
            values[HistorySeries.Connections.Index] = -i;
            _history.Add(_time.GetUtcNow(), values);
        }

        _added += count;
    }
}
