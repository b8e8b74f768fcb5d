using IoTHub.Broker.Connections;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Sessions;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker;

/// <summary>The broker's side of authorization: who decides, and subscriptions dropped when the rules change.</summary>
public sealed partial class MqttBroker
{
    private readonly Authorizer? _authorizer;

    /// <summary>
    /// Decides what clients may publish and subscribe to; null (the default): everything is allowed and nothing is
    /// checked. Set before <see cref="Start"/>.
    /// </summary>
    public Authorizer? Authorizer
    {
        get => _authorizer;
        init
        {
            _authorizer = value;
            value?.RulesChanged += RevokeDeniedSubscriptions;
        }
    }

    /// <summary>Drops, for every connected client, the subscriptions the rules in force no longer allow.</summary>
    internal void RevokeDeniedSubscriptions()
    {
        foreach (var (connection, _) in _connections)
        {
            if (connection.Session is { } session)
            {
                RevokeDenied(session);
            }
        }
    }

    /// <summary>Drops the session's subscriptions its client may no longer make; its messages stop at once (delivery checks them too).</summary>
    internal void RevokeDenied(Session session)
    {
        if (session.Access is not { } access)
        {
            return;
        }

        foreach (var subscription in session.GetSubscriptions())
        {
            if (!access.MayKeepSubscription(subscription.MatchFilter) && Router.Unsubscribe(session, subscription.TopicFilter))
            {
                LogSubscriptionRevoked(Logger, session.ClientId, subscription.TopicFilter);
            }
        }
    }

    /// <summary>The access of a client that connected as <paramref name="userName"/> with <paramref name="rights"/>; null without an authorizer.</summary>
    internal AclClient? AccessFor(string? userName, string clientId, ConnectionInfo info, ClientRights? rights) =>
        _authorizer?.ForClient(new AclIdentity(userName, clientId,
            Security.Certificates.CertificateIdentities.Read(info.ClientCertificate, Security.Certificates.CertificateIdentity.CommonName), rights),
            new Security.Audit.ClientOrigin(Name, info.Listener, info.Endpoint));

    private void DetachAuthorizer() => _authorizer?.RulesChanged -= RevokeDeniedSubscriptions;

    [LoggerMessage(1321, LogLevel.Information, "Subscription of client '{ClientId}' to '{TopicFilter}' removed: the access rules no longer allow it")]
    private static partial void LogSubscriptionRevoked(ILogger logger, string clientId, string topicFilter);
}
