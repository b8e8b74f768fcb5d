using IoTHub.Web.Dashboard.Live;

namespace IoTHub.Dashboard.Tests;

/// <summary>The overview's activity feed as lines: short visits joined, bursts of them folded.</summary>
public sealed class ActivityLineTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_client_gone_within_the_short_time_is_one_line_with_its_stay_and_reason()
    {
        var lines = ActivityLine.Of([Off(12, "a", "keep-alive timeout"), On(10, "a")]);

        var visit = Assert.Single(lines);
        Assert.Equal(TimeSpan.FromSeconds(2), visit.Stayed);
        Assert.Equal("keep-alive timeout", visit.Activity.Reason);
        Assert.Empty(visit.Folded);
    }

    [Fact]
    public void A_client_that_stayed_longer_has_its_connect_and_its_disconnect()
    {
        var lines = ActivityLine.Of([Off(40, "a", "DISCONNECT"), On(10, "a")]);

        Assert.Equal([false, true], lines.Select(static l => l.Activity.Connected));
        Assert.All(lines, static l => Assert.Null(l.Stayed));
    }

    [Fact]
    public void Short_visits_in_a_row_fold_into_one_line_and_a_connect_between_them_breaks_the_run()
    {
        // Newest first: three visits, a client that stays, two visits.
        var lines = ActivityLine.Of([
            Off(20, "c", "DISCONNECT"), On(19, "c"), Off(18, "b", "DISCONNECT"), On(17, "b"), Off(16, "a", "DISCONNECT"), On(15, "a"),
            On(14, "stays"),
            Off(13, "e", "DISCONNECT"), On(12, "e"), Off(11, "d", "DISCONNECT"), On(10, "d"),
        ]);

        Assert.Equal(4, lines.Count);
        Assert.Equal(["c", "b", "a"], lines[0].Folded.Select(static v => v.Activity.ClientId));
        Assert.Equal(Start.AddSeconds(15), lines[0].Since);
        Assert.Equal("stays", lines[1].Activity.ClientId);
        Assert.Equal(["e", "d"], lines.Skip(2).Select(static l => l.Activity.ClientId));
        Assert.All(lines.Skip(2), static l => Assert.Equal(TimeSpan.FromSeconds(1), l.Stayed));
    }

    [Fact]
    public void A_disconnect_whose_connect_is_no_longer_kept_is_a_line_of_its_own()
    {
        var line = Assert.Single(ActivityLine.Of([Off(5, "a", "network connection lost")]));

        Assert.Null(line.Stayed);
        Assert.False(line.Activity.Connected);
    }

    private static ClientActivity On(int second, string clientId) => new(Start.AddSeconds(second), "default", clientId, "127.0.0.1:5000", true);

    private static ClientActivity Off(int second, string clientId, string reason) => new(Start.AddSeconds(second), "default", clientId, "127.0.0.1:5000", false, reason);
}
