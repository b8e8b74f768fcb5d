using Microsoft.AspNetCore.Hosting;
using System.Net;
using IoTHub.Web.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests;

/// <summary>
/// Program under WebApplicationFactory with a real Kestrel server on a free port and its own data
/// directory. Program binds its own listener, so the port comes through settings (the factory's
/// UseKestrel(port) would be ignored) and the client's address from the server's real addresses.
/// </summary>
public class KestrelHost : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly WebApplicationFactory<Program> _factory;

    public KestrelHost()
        : this(new Dictionary<string, string>())
    {
    }

    /// <param name="settings">More configuration keys, e.g. more brokers.</param>
    protected KestrelHost(IReadOnlyDictionary<string, string> settings)
    {
        DataDirectory = Path.Combine(_temp.Path, "data");
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Http:Port", "0")
                .UseSetting("Mqtt:Port", "0")
                .UseSetting("Storage:DataDirectory", DataDirectory);
            foreach (var (key, value) in settings)
            {
                web.UseSetting(key, value);
            }
        });
        _factory.UseKestrel();
        _factory.StartServer();

        var listeners = Services.GetRequiredService<BoundListeners>();
        MqttEndpoints = listeners.Mqtt.Where(static m => m.Name == "default").ToDictionary(static m => m.Broker, static m => (IPEndPoint)m.Endpoint);
        MqttListeners = listeners.Mqtt.ToList();
        MqttEndpoint = MqttEndpoints["default"];
        Client = new HttpClient { BaseAddress = new Uri($"http://{listeners.Http.Single()}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string DataDirectory { get; }

    public HttpClient Client { get; }

    /// <summary>Where the default broker's MQTT listener really bound.</summary>
    public IPEndPoint MqttEndpoint { get; }

    /// <summary>Every broker's default listener (Mqtt:Address and Mqtt:Port), by broker name.</summary>
    public IReadOnlyDictionary<string, IPEndPoint> MqttEndpoints { get; }

    /// <summary>Every MQTT listener, named ones included.</summary>
    internal IReadOnlyList<BoundMqttListener> MqttListeners { get; }

    public IServiceProvider Services => _factory.Services;

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Client.Dispose();
            _factory.Dispose();
            _temp.Dispose();
        }
    }
}
