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
public sealed class KestrelHost : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly WebApplicationFactory<Program> _factory;

    public KestrelHost()
    {
        DataDirectory = Path.Combine(_temp.Path, "data");
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("Http:Port", "0")
            .UseSetting("Mqtt:Port", "0")
            .UseSetting("Storage:DataDirectory", DataDirectory));
        _factory.UseKestrel();
        _factory.StartServer();

        var listeners = Services.GetRequiredService<BoundListeners>();
        MqttEndpoint = listeners.Mqtt.Single();
        Client = new HttpClient { BaseAddress = new Uri($"http://{listeners.Http.Single()}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string DataDirectory { get; }

    public HttpClient Client { get; }

    /// <summary>Where the MQTT listener really bound.</summary>
    public IPEndPoint MqttEndpoint { get; }

    public IServiceProvider Services => _factory.Services;

    public void Dispose()
    {
        Client.Dispose();
        _factory.Dispose();
        _temp.Dispose();
    }
}
