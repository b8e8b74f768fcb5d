using IoTHub.Broker;
using IoTHub.Broker.Security;
using IoTHub.Web.Configuration;
using IoTHub.Web.Security;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Mqtt;

/// <summary>The isolated brokers of this server by name, each with its own sessions, topics and retained messages.</summary>
internal sealed class BrokerRegistry : IAsyncDisposable
{
    private readonly Dictionary<string, MqttBroker> _brokers = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every broker of the server shares one authentication chain and its bans, and one authorizer: one set of users and rules.</summary>
    public BrokerRegistry(IOptions<MqttOptions> options, IConnectAuthenticator authenticator, MqttAuthorization authorization, ILoggerFactory loggerFactory)
    {
        foreach (MqttOptions broker in options.Value.AllBrokers)
        {
            _brokers[broker.Name] = new MqttBroker(broker.Broker, loggerFactory.CreateLogger<MqttBroker>())
            {
                Name = broker.Name,
                Authenticator = authenticator,
                Authorizer = authorization.Authorizer,
            };
        }
    }

    public IReadOnlyDictionary<string, MqttBroker> Brokers => _brokers;

    public MqttBroker Default => _brokers[MqttOptions.DefaultBrokerName];

    public MqttBroker this[string name] => _brokers[name];

    public async ValueTask DisposeAsync()
    {
        foreach (MqttBroker broker in _brokers.Values)
        {
            await broker.DisposeAsync();
        }
    }
}
