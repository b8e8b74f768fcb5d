namespace IoTHub.Web.Dashboard.Components;

/// <summary>One line of a <see cref="LineChart"/>: its name, its colour (a css class) and its values, oldest first.</summary>
public sealed record ChartSeries(string Name, string CssClass, IReadOnlyList<double> Values)
{
    /// <summary>
    /// Fewer points for a long range: the highest of each <paramref name="perPoint"/> values, counted from the
    /// newest so the last point stays the newest value, and a peak is never averaged away.
    /// </summary>
    public static IReadOnlyList<double> Peaks(IReadOnlyList<double> values, int perPoint)
    {
        if (perPoint <= 1)
        {
            return values;
        }

        var peaks = new double[(values.Count + perPoint - 1) / perPoint];
        for (var p = 0; p < peaks.Length; p++)
        {
            var end = values.Count - ((peaks.Length - 1 - p) * perPoint);
            var peak = double.MinValue;
            for (var i = Math.Max(end - perPoint, 0); i < end; i++)
            {
                peak = Math.Max(peak, values[i]);
            }

            peaks[p] = peak;
        }

        return peaks;
    }
}
