using System.Globalization;
using System.Net;
using IoTHub.Testing;

namespace IoTHub.Interop.Tests.Transports;

/// <summary>
/// The host with one listener of each kind for the default broker, all on loopback ports the system picks:
/// "tls" (TLS 1.2/1.3), "tls13" (TLS 1.3 only), "mtls" (client certificate required), "optional" (client
/// certificate optional), "reload" (its own certificate files, which a test replaces), "ws", "wss" (HTTP/1.1 and HTTP/2), "h2c" (ws over HTTP/2 only), and "origins"
/// (ws with an Origin allow-list and its own trusted proxy), "sni" (two certificates, chosen by host name); "Mqtt:TrustedProxies" trusts loopback. Handshakes
/// and CONNECTs get 2 s (Mqtt:ConnectTimeout); packets and WebSocket messages at most 4 096 bytes.
/// </summary>
public sealed class TransportHost : IDisposable
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The broker's Mqtt:MaximumPacketSize, also the largest WebSocket message it takes.</summary>
    public const int MaximumPacketSize = 4096;

    private readonly string _reloadFolder;

    public TransportHost()
    {
        Certificates = new TestCertificates();
        Server = Certificates.Server("server");
        _reloadFolder = Directory.CreateTempSubdirectory("iothub-reload-").FullName;
        Reload = new PemFiles(Path.Combine(_reloadFolder, "live.pem"), Path.Combine(_reloadFolder, "live.key"));
        var first = Certificates.Server("reload-1");
        File.Copy(first.Certificate, Reload.Certificate);
        File.Copy(first.Key, Reload.Key);

        var settings = new Dictionary<string, string>
        {
            ["Mqtt:ConnectTimeout"] = ConnectTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["Mqtt:MaximumPacketSize"] = MaximumPacketSize.ToString(CultureInfo.InvariantCulture),
            ["Mqtt:TrustedProxies"] = "127.0.0.1",
            ["Mqtt:Listeners:ws:Url"] = "ws://127.0.0.1:0/mqtt",
            ["Mqtt:Listeners:h2c:Url"] = "ws://127.0.0.1:0/mqtt",
            ["Mqtt:Listeners:h2c:HttpProtocols"] = "Http2",
            ["Mqtt:Listeners:origins:Url"] = "ws://127.0.0.1:0",
            ["Mqtt:Listeners:origins:AllowedOrigins"] = "https://app.example.com",
            ["Mqtt:Listeners:origins:TrustedProxies"] = "10.9.9.9",
        };
        Secure(settings, "tls", "tls://127.0.0.1:0", Server);
        Secure(settings, "tls13", "tls://127.0.0.1:0", Server);
        settings["Mqtt:Listeners:tls13:TlsProtocols"] = "Tls13";
        Secure(settings, "mtls", "tls://127.0.0.1:0", Server);
        settings["Mqtt:Listeners:mtls:ClientCertificates"] = "Required";
        settings["Mqtt:Listeners:mtls:ClientCertificateAuthority"] = Certificates.Authority;
        Secure(settings, "optional", "tls://127.0.0.1:0", Server);
        settings["Mqtt:Listeners:optional:ClientCertificates"] = "Optional";
        settings["Mqtt:Listeners:optional:ClientCertificateAuthority"] = Certificates.Authority;
        Secure(settings, "reload", "tls://127.0.0.1:0", Reload);
        Secure(settings, "wss", "wss://127.0.0.1:0/mqtt", Server);
        Other = Certificates.Server("other", ["other.test"]);
        settings["Mqtt:Listeners:sni:Url"] = "tls://127.0.0.1:0";
        settings["Mqtt:Listeners:sni:Certificates:0:Certificate"] = Server.Certificate;
        settings["Mqtt:Listeners:sni:Certificates:0:CertificateKey"] = Server.Key;
        settings["Mqtt:Listeners:sni:Certificates:1:Certificate"] = Other.Certificate;
        settings["Mqtt:Listeners:sni:Certificates:1:CertificateKey"] = Other.Key;
        Host = new InteropHost(settings);
    }

    public InteropHost Host { get; }

    public TestCertificates Certificates { get; }

    /// <summary>The certificate of every secure listener but "reload".</summary>
    public PemFiles Server { get; }

    /// <summary>The second certificate of the "sni" listener, for other.test (its first is <see cref="Server"/>).</summary>
    public PemFiles Other { get; }

    /// <summary>The files of the "reload" listener.</summary>
    public PemFiles Reload { get; }

    public IPEndPoint this[string listener] => Host.Listener(listener);

    public string Port(string listener) => this[listener].Port.ToString(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        Host.Dispose();
        Certificates.Dispose();
        Directory.Delete(_reloadFolder, recursive: true);
    }

    private static void Secure(Dictionary<string, string> settings, string name, string url, PemFiles files)
    {
        settings[$"Mqtt:Listeners:{name}:Url"] = url;
        settings[$"Mqtt:Listeners:{name}:Certificate"] = files.Certificate;
        settings[$"Mqtt:Listeners:{name}:CertificateKey"] = files.Key;
    }
}
