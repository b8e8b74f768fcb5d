namespace IoTHub.Web.Dashboard.Live;

/// <summary>
/// A line of the overview's activity feed: a connect or a disconnect; a short visit (a client that connected and was gone
/// within <see cref="ShortLived"/>, shown as one line with how long it stayed); or a fold of a burst of such visits.
/// </summary>
/// <param name="Activity">The event (for a visit its disconnect, for a fold the newest visit's).</param>
/// <param name="Stayed">For a visit, how long the client stayed; null otherwise.</param>
/// <param name="Folded">For a fold, its visits, newest first; empty otherwise.</param>
internal sealed record ActivityLine(ClientActivity Activity, TimeSpan? Stayed, IReadOnlyList<ActivityLine> Folded)
{
    /// <summary>A client that stayed no longer than this is a short visit.</summary>
    public static readonly TimeSpan ShortLived = TimeSpan.FromSeconds(10);

    /// <summary>This many short visits in a row, with nothing between them, make one fold.</summary>
    public const int FoldFrom = 3;

    /// <summary>For a fold, when its oldest visit started.</summary>
    public DateTimeOffset Since => Folded.Count == 0 ? Activity.At : Folded[^1].Activity.At - Folded[^1].Stayed!.Value;

    /// <summary>The lines of <paramref name="newestFirst"/> (a feed's activity, newest first), newest first.</summary>
    public static List<ActivityLine> Of(IReadOnlyList<ClientActivity> newestFirst)
    {
        var paired = new bool[newestFirst.Count];
        List<ActivityLine> lines = [];
        List<ActivityLine> visits = [];
        for (var i = 0; i < newestFirst.Count; i++)
        {
            if (paired[i])
            {
                continue;
            }

            var activity = newestFirst[i];
            var connect = activity.Connected ? -1 : ConnectOf(newestFirst, i);
            if (connect >= 0 && activity.At - newestFirst[connect].At <= ShortLived)
            {
                paired[connect] = true;
                visits.Add(new ActivityLine(activity, activity.At - newestFirst[connect].At, []));
                continue;
            }

            Fold(visits, lines);
            lines.Add(new ActivityLine(activity, null, []));
        }

        Fold(visits, lines);
        return lines;
    }

    /// <summary>The connect that began the connection whose end is <paramref name="newestFirst"/>[<paramref name="end"/>]: its client's previous event, if a connect.</summary>
    private static int ConnectOf(IReadOnlyList<ClientActivity> newestFirst, int end)
    {
        var ended = newestFirst[end];
        for (var i = end + 1; i < newestFirst.Count; i++)
        {
            var earlier = newestFirst[i];
            if (earlier.ClientId == ended.ClientId && earlier.Broker == ended.Broker)
            {
                return earlier.Connected ? i : -1;
            }
        }

        return -1;
    }

    /// <summary>Adds the visits seen in a row as lines of their own, or as one fold when there are enough of them.</summary>
    private static void Fold(List<ActivityLine> visits, List<ActivityLine> lines)
    {
        if (visits.Count >= FoldFrom)
        {
            lines.Add(new ActivityLine(visits[0].Activity, null, [.. visits]));
        }
        else
        {
            lines.AddRange(visits);
        }

        visits.Clear();
    }
}
