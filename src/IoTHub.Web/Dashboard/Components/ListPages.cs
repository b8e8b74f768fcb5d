using System.Globalization;
using IoTHub.Web.Api;
using IoTHub.Web.Api.Subscriptions;

namespace IoTHub.Web.Dashboard.Components;

/// <summary>What the pages that list sessions, clients and subscriptions share: one page read from the server, and times as they are shown.</summary>
internal static class ListPages
{
    /// <summary>
    /// Page <paramref name="page"/> of a list; when the list has shrunk below it (sessions deleted, a filter changed), its last
    /// page instead, and <paramref name="page"/> says so.
    /// </summary>
    public static ResultPage<T> Read<T>(ref int page, Func<PageQuery, ResultPage<T>> read)
    {
        var shown = read(new PageQuery { Page = page });
        if (shown.Items.Count == 0 && page > 1)
        {
            page = Math.Max(1, shown.TotalPages);
            shown = read(new PageQuery { Page = page });
        }

        return shown;
    }

    /// <summary>A time in a list: UTC, to the second; nothing when there is none.</summary>
    public static string Time(DateTimeOffset? at) => at?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? string.Empty;

    /// <summary>A subscription's MQTT 5.0 options that differ from a plain subscription: "no local, retain as published, id 7".</summary>
    public static string Options(SubscriptionInfo s)
    {
        List<string> options = [];
        if (s.NoLocal)
        {
            options.Add("no local");
        }

        if (s.RetainAsPublished)
        {
            options.Add("retain as published");
        }

        if (s.SubscriptionIdentifier != 0)
        {
            options.Add($"id {s.SubscriptionIdentifier}");
        }

        return string.Join(", ", options);
    }
}
