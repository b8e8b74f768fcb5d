using IoTHub.Cluster.Membership;
using IoTHub.Cluster.Settings;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Hosting;

/// <summary>Turns the failures an operator can fix (bad settings, a port in use) into one plain message.</summary>
internal static class StartupFailure
{
    public static bool TryDescribe(Exception exception, out string message)
    {
        var problems = new List<string>();
        if (Collect(exception, problems))
        {
            message = "IoTHub cannot start:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(static p => "  - " + p));
            return true;
        }

        message = string.Empty;
        return false;
    }

    private static bool Collect(Exception exception, List<string> problems)
    {
        switch (exception)
        {
            case OptionsValidationException validation:
                problems.AddRange(validation.Failures);
                return true;
            case AggregateException aggregate:
                return aggregate.InnerExceptions.All(inner => Collect(inner, problems));
            case ClusterStoreException cluster:
                // The cluster's membership database unreachable, refusing us or not migrated (src/IoTHub.Cluster).
                problems.Add(cluster.Message);
                return true;
            case ClusterSettingsException settings:
                // A joining node whose settings differ from the active nodes' (src/IoTHub.Cluster/Settings).
                problems.AddRange(settings.Differences.Select(static d => "Cluster: every node must set this alike: " + d));
                return true;
            case IOException io:
                // Kestrel's "Failed to bind to address ...: address already in use."
                problems.Add(io.Message);
                return true;
            default:
                return false;
        }
    }
}
