using System.Diagnostics.Metrics;

namespace IoTHub.Broker.Tests.Support;

/// <summary>Records what is measured in one histogram, with the value of one of its tags, as it is measured (a MeterListener on that instrument alone).</summary>
internal sealed class HistogramRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<(double Value, object? Tag, int TagCount)> _recorded = [];

    /// <param name="histogram">The instrument to listen to.</param>
    /// <param name="tag">The tag whose value each record keeps.</param>
    public HistogramRecorder(Histogram<double> histogram, string tag)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument, histogram))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            object? kept = null;
            foreach (var (key, tagValue) in tags)
            {
                kept = key == tag ? tagValue : kept;
            }

            lock (_recorded)
            {
                _recorded.Add((value, kept, tags.Length));
            }
        });
        _listener.Start();
    }

    /// <summary>What was recorded since the start or the last <paramref name="clear"/>, oldest first.</summary>
    public List<(double Value, object? Tag, int TagCount)> Recorded(bool clear = false)
    {
        lock (_recorded)
        {
            var copy = _recorded.ToList();
            if (clear)
            {
                _recorded.Clear();
            }

            return copy;
        }
    }

    public void Dispose() => _listener.Dispose();
}
