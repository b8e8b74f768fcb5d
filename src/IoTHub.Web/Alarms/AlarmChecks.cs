using System.Globalization;
using IoTHub.Broker;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;
using IoTHub.Broker.Storage;
using IoTHub.Web.Hosting;
using IoTHub.Web.Metrics;
using IoTHub.Web.Mqtt;

namespace IoTHub.Web.Alarms;

/// <summary>
/// Looks for the conditions of the alarms in the server's state (never on a hot path; the history sampler calls it every
/// 10 s): a broker at 90 % of Mqtt:MaximumConnections, sessions at 90 % of Mqtt:MaximumQueuedMessages, failing storage
/// writes, a listener certificate that expires within 14 days, an authentication backend that fails.
/// </summary>
internal sealed class AlarmChecks(BrokerRegistry registry, BoundListeners listeners, IServiceProvider services, TimeProvider time)
{
    public const double Threshold = 0.9;
    public static readonly TimeSpan CertificateWarning = TimeSpan.FromDays(14);

    public List<AlarmCondition> Check()
    {
        var found = new List<AlarmCondition>();
        foreach (var (name, broker) in registry.Brokers)
        {
            var maximum = broker.Options.MaximumConnections;
            if (broker.ConnectionCount >= Threshold * maximum)
            {
                found.Add(new AlarmCondition(AlarmNames.ConnectionsHigh, name,
                    string.Create(CultureInfo.InvariantCulture, $"{broker.ConnectionCount} connections of at most {maximum} (Mqtt:MaximumConnections).")));
            }

            var limit = broker.Options.MaximumQueuedMessages;
            var full = 0;
            SessionListing? fullest = null;
            foreach (var session in broker.EnumerateSessions())
            {
                if (session.QueuedMessages >= Threshold * limit)
                {
                    full++;
                    fullest = session.QueuedMessages > (fullest?.QueuedMessages ?? 0) ? session : fullest;
                }
            }

            if (fullest is { } most)
            {
                found.Add(new AlarmCondition(AlarmNames.SessionQueueHigh, name, string.Create(CultureInfo.InvariantCulture,
                    $"Sessions holding 90 % or more of Mqtt:MaximumQueuedMessages ({limit}): {full}; the fullest: '{most.ClientId}' with {most.QueuedMessages}.")));
            }
        }

        if (services.GetRequiredService<StorageWriter>() is { Failing: true } writer)
        {
            found.Add(new AlarmCondition(AlarmNames.StorageWriteErrors, "storage", "Storage writes fail: " + writer.LastFailure?.Message));
        }

        foreach (var authenticator in services.GetRequiredService<AuthenticationChain>().Authenticators)
        {
            if (authenticator is BackendAuthenticator { Problem: { } problem } backend)
            {
                found.Add(new AlarmCondition(AlarmNames.AuthenticationBackendFailing, backend.Name, problem));
            }
        }

        var now = time.GetUtcNow();
        foreach (var listener in listeners.Mqtt)
        {
            if (listener.Certificates is { } certificates && BrokerMetrics.FirstToExpire(certificates) is var notAfter && notAfter - now < CertificateWarning)
            {
                found.Add(new AlarmCondition(AlarmNames.CertificateExpiring, listener.Url, string.Create(CultureInfo.InvariantCulture,
                    $"The certificate of {listener.Url} expires at {notAfter:u} ({(notAfter - now).TotalDays:0.#} days).")));
            }
        }

        return found;
    }
}
