using Microsoft.AspNetCore.Hosting;
using System.Net;
using IoTHub.Testing;
using IoTHub.Web.Hosting;
using IoTHub.Web.Metrics.History;
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
    private readonly TestCertificates? _authority;

    public KestrelHost()
        : this(new Dictionary<string, string>())
    {
    }

    /// <param name="settings">More configuration keys, e.g. more brokers.</param>
    /// <param name="authority">Over HTTPS (Http:Certificate among the settings): the authority that issued the certificate, which the clients trust.</param>
    protected KestrelHost(IReadOnlyDictionary<string, string> settings, TestCertificates? authority = null)
    {
        _authority = authority;
        DataDirectory = Path.Combine(_temp.Path, "data");
        _factory = new ProgramFactory(web =>
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
        BaseAddress = new Uri(listeners.Http.Single().Url);
        Client = NewClient();
    }

    /// <summary>http://127.0.0.1:port/, or https:// when the host serves HTTPS.</summary>
    public Uri BaseAddress { get; }

    public string DataDirectory { get; }

    public HttpClient Client { get; }

    /// <summary>Where the default broker's MQTT listener really bound.</summary>
    public IPEndPoint MqttEndpoint { get; }

    /// <summary>Every broker's default listener (Mqtt:Address and Mqtt:Port), by broker name.</summary>
    public IReadOnlyDictionary<string, IPEndPoint> MqttEndpoints { get; }

    /// <summary>Every MQTT listener, named ones included.</summary>
    internal IReadOnlyList<BoundMqttListener> MqttListeners { get; }

    public IServiceProvider Services => _factory.Services;

    /// <summary>Takes a metrics history sample and checks the alarms now, as the sampler's timer does every 10 s.</summary>
    public void SampleNow() => Services.GetRequiredService<HistorySampler>().Sample();

    /// <summary>A client of the HTTP endpoint; over HTTPS it trusts the authority's certificates (and only those).</summary>
    public HttpClient NewClient(bool allowAutoRedirect = true, bool useCookies = true) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = allowAutoRedirect,
        UseCookies = useCookies,
        SslOptions = { RemoteCertificateValidationCallback = _authority is null ? null : (_, certificate, _, _) => _authority.Issued(certificate) },
    })
    {
        BaseAddress = BaseAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };

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
