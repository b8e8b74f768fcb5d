using IoTHub.Web.Tests;

namespace IoTHub.Dashboard.Tests;

/// <summary>The real host on real Kestrel (the API tests' host: a known admin password, a viewer on demand).</summary>
public sealed class DashboardHost : AdminApiHost
{
    public DashboardHost()
        : base(new Dictionary<string, string>
        {
            ["Mqtt:DrainTimeout"] = "00:00:02", // a test's leftover clients must not hold up the host's shutdown
            ["Logging:LogLevel:Default"] = "Warning",
        })
    {
    }

    /// <summary>http://127.0.0.1:port, without a trailing slash.</summary>
    public string BaseUrl => Client.BaseAddress!.ToString().TrimEnd('/');
}
