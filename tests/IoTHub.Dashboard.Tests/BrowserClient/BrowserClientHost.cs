using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IoTHub.Testing;
using IoTHub.Web.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Dashboard.Tests.BrowserClient;

/// <summary>
/// The dashboard host with a "ws" and a "wss" listener that take pages of the HTTP endpoint (AllowedOrigins) and a "tls"
/// listener for mosquitto clients, the secure ones with a certificate of a test authority; a Chromium that trusts that
/// certificate by its public key (and no other certificate); and mqtt.js put beside the test page in the host's web root,
/// which under the test factory is the build output's copy (docs/testing.md).
/// </summary>
public sealed class BrowserClientHost : DashboardHost, IAsyncLifetime
{
    public const string PagePath = "/browser-client/browser-client.html";

    public BrowserClientHost()
        : this(new TestCertificates())
    {
    }

    private BrowserClientHost(TestCertificates certificates)
        : this(certificates, certificates.Server("browser"), FreePort.Next())
    {
    }

    // The HTTP port is chosen first: the WebSocket listeners must name the pages' origin before the host starts.
    private BrowserClientHost(TestCertificates certificates, PemFiles server, int httpPort)
        : base(Settings(server, $"http://127.0.0.1:{httpPort.ToString(CultureInfo.InvariantCulture)}", httpPort))
    {
        Certificates = certificates;
        Chromium = new Chromium([$"--ignore-certificate-errors-spki-list={PublicKeyPin(server)}"]);
    }

    public TestCertificates Certificates { get; }

    public Chromium Chromium { get; }

    /// <summary>Where the default broker's listener "Mqtt:Listeners:{name}" really bound.</summary>
    public int Port(string listener) =>
        Services.GetRequiredService<BoundListeners>().Mqtt.Single(bound => bound.Broker == "default" && bound.Name == listener).Port!.Value;

    public async Task InitializeAsync()
    {
        await MqttJs.WriteBundleAsync(Path.Combine(AppContext.BaseDirectory, "wwwroot", "browser-client", "mqtt.min.js"));
        await Chromium.InitializeAsync();
    }

    public Task DisposeAsync() => Chromium.DisposeAsync();

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            Certificates.Dispose();
        }
    }

    private static Dictionary<string, string> Settings(PemFiles server, string origin, int httpPort) => new()
    {
        ["Http:Port"] = httpPort.ToString(CultureInfo.InvariantCulture),
        ["Mqtt:Listeners:ws:Url"] = "ws://127.0.0.1:0/mqtt",
        ["Mqtt:Listeners:ws:AllowedOrigins"] = origin,
        ["Mqtt:Listeners:wss:Url"] = "wss://127.0.0.1:0/mqtt",
        ["Mqtt:Listeners:wss:AllowedOrigins"] = origin,
        ["Mqtt:Listeners:wss:Certificate"] = server.Certificate,
        ["Mqtt:Listeners:wss:CertificateKey"] = server.Key,
        ["Mqtt:Listeners:tls:Url"] = "tls://127.0.0.1:0",
        ["Mqtt:Listeners:tls:Certificate"] = server.Certificate,
        ["Mqtt:Listeners:tls:CertificateKey"] = server.Key,
    };

    /// <summary>What Chromium's --ignore-certificate-errors-spki-list takes: the base64 SHA-256 of the certificate's SubjectPublicKeyInfo.</summary>
    private static string PublicKeyPin(PemFiles files)
    {
        using var certificate = X509Certificate2.CreateFromPemFile(files.Certificate, files.Key);
        return Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
    }
}
