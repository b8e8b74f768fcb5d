namespace IoTHub.Web.Dashboard.Components;

/// <summary>One line of a <see cref="LineChart"/>: its name, its colour (a css class) and its values, oldest first.</summary>
public sealed record ChartSeries(string Name, string CssClass, IReadOnlyList<double> Values);
