using IoTHub.Testing;
using IoTHub.Web.Tests;

namespace IoTHub.Dashboard.Tests;

/// <summary>The real host on real Kestrel (the API tests' host: a known admin password, a viewer on demand).</summary>
public class DashboardHost : AdminApiHost
{
    public DashboardHost()
        : this(new Dictionary<string, string>())
    {
    }

    /// <param name="settings">More configuration keys.</param>
    /// <param name="authority">Over HTTPS: the authority of the host's certificate.</param>
    protected DashboardHost(IReadOnlyDictionary<string, string> settings, TestCertificates? authority = null)
        : base(new Dictionary<string, string>(settings)
        {
            ["Mqtt:DrainTimeout"] = "00:00:02", // a test's leftover clients must not hold up the host's shutdown
            ["Logging:LogLevel:Default"] = "Warning",
        }, authority)
    {
    }

    /// <summary>http://127.0.0.1:port (https:// over HTTPS), without a trailing slash.</summary>
    public string BaseUrl => Client.BaseAddress!.ToString().TrimEnd('/');
}
