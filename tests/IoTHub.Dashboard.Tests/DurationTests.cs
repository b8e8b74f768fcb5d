using IoTHub.Web.Dashboard.Components;

namespace IoTHub.Dashboard.Tests;

/// <summary>Durations in the units a person reads: the largest unit that is not zero, and the next one unless it is zero.</summary>
public sealed class DurationTests
{
    [Theory]
    [InlineData(0, "0 s")]
    [InlineData(45, "45 s")]
    [InlineData(60, "1 min")]
    [InlineData(90, "1 min 30 s")]
    [InlineData(3_600, "1 h")]
    [InlineData(3_601, "1 h")]
    [InlineData(5_400, "1 h 30 min")]
    [InlineData(86_400, "1 d")]
    [InlineData(90_061, "1 d 1 h")]
    [InlineData(604_800, "7 d")]
    [InlineData(4_294_967_294, "49710 d 6 h")]
    public void Seconds_are_shown_in_days_hours_minutes_and_seconds(long seconds, string shown) => Assert.Equal(shown, Duration.Format(seconds));
}
