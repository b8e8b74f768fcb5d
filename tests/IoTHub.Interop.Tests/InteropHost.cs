using System.Net;
using IoTHub.Broker;
using IoTHub.Broker.Security.Bans;
using IoTHub.Testing;
using IoTHub.Web.Hosting;
using IoTHub.Web.Metrics.History;
using IoTHub.Web.Tests;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IoTHub.Interop.Tests;

/// <summary>
/// The real host (Program) under WebApplicationFactory with real Kestrel: MQTT on a loopback port the
/// system picks, read back from the bound listener. One per test class (a class fixture), with its own
/// data directory. Other settings (broker limits in the "Mqtt" section) come from the constructor.
/// </summary>
public sealed class InteropHost : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("iothub-interop-").FullName;
    private readonly WebApplicationFactory<Program> _factory;

    public InteropHost()
        : this(new Dictionary<string, string>())
    {
    }

    /// <param name="logs">Also receives the host's log, when given.</param>
    internal InteropHost(IReadOnlyDictionary<string, string> settings, ILoggerProvider? logs = null)
    {
        _factory = new ProgramFactory(web =>
        {
            web.UseSetting("Http:Port", "0")
                .UseSetting("Mqtt:Port", "0")
                .UseSetting("Storage:DataDirectory", Path.Combine(_root, "data"))
                .UseSetting("Mqtt:DrainTimeout", "00:00:02") // a test's leftovers must not hold up the host's shutdown
                .UseSetting("Logging:LogLevel:Default", "Warning");
            foreach (var (key, value) in settings)
            {
                web.UseSetting(key, value);
            }

            if (logs is not null)
            {
                web.ConfigureLogging(logging => logging.AddProvider(logs));
            }
        });
        _factory.UseKestrel();
        _factory.StartServer();
        Endpoint = (IPEndPoint)_factory.Services.GetRequiredService<BoundListeners>().Mqtt.Single(static listener => listener is { Broker: "default", Name: "default" }).Endpoint;
    }

    /// <summary>Where the MQTT listener really bound (loopback).</summary>
    public IPEndPoint Endpoint { get; }

    public string Host => Endpoint.Address.ToString();

    public int Port => Endpoint.Port;

    /// <summary>Where the default broker's listener "Mqtt:Listeners:{name}" really bound.</summary>
    public IPEndPoint Listener(string name) =>
        (IPEndPoint)_factory.Services.GetRequiredService<BoundListeners>().Mqtt.Single(listener => listener.Broker == "default" && listener.Name == name).Endpoint;

    /// <summary>Where the HTTP endpoint (dashboard, API, and MQTT over WebSocket at /mqtt) really bound.</summary>
    public IPEndPoint HttpEndpoint => _factory.Services.GetRequiredService<BoundListeners>().Http.Single().Endpoint;

    public MqttBroker Broker => _factory.Services.GetRequiredService<MqttBroker>();

    public IServiceProvider Services => _factory.Services;

    /// <summary>The sampler of the metrics history, for tests that take a sample now instead of waiting 10 s.</summary>
    internal HistorySampler HistorySampler => _factory.Services.GetRequiredService<HistorySampler>();

    /// <summary>The failed logins counted and the bans in force.</summary>
    public BanList Bans => _factory.Services.GetRequiredService<BanList>();

    /// <summary>Polls the broker's view of a client until it is offline (its connection closed); fails after the timeout.</summary>
    public Task WaitUntilOfflineAsync(string clientId, TimeSpan timeout) =>
        Poll.UntilAsync(() => Broker.FindSession(clientId) is not { IsConnected: true }, timeout);

    public void Dispose()
    {
        _factory.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
