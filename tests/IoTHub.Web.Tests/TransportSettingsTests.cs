using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using IoTHub.Testing;
using IoTHub.Web.Configuration;
using IoTHub.Web.Transports.Limits;
using IoTHub.Web.Transports.Tls;

namespace IoTHub.Web.Tests;

/// <summary>The keys of tls://, ws:// and wss:// listeners (docs/transports.md): parsed, checked at start, every bad one listed.</summary>
public sealed class TransportSettingsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();
    private readonly TempDirectory _workingDirectory = new();

    [Theory]
    [InlineData("tls://0.0.0.0:8883", "tls", "", false)]
    [InlineData("ws://127.0.0.1:8083", "ws", "/mqtt", true)]
    [InlineData("ws://127.0.0.1:8083/", "ws", "/", true)]
    [InlineData("wss://[::1]:8084/broker/mqtt", "wss", "/broker/mqtt", true)]
    [InlineData("tcp://[::ffff:127.0.0.1]:1884", "tcp", "", true)]
    [InlineData("ws://192.168.1.20:8083/mqtt", "ws", "/mqtt", false)]
    [InlineData("detect://0.0.0.0:1883", "detect", "/mqtt", false)]
    [InlineData("detect://127.0.0.1:1883/broker", "detect", "/broker", true)]
    [InlineData("unix:///run/iothub/mqtt.sock", "unix", "", true)]
    public void Listener_urls_give_their_scheme_path_and_whether_only_this_machine_reaches_them(string url, string scheme, string path, bool loopback)
    {
        Assert.True(MqttListenerUrl.TryParse("l", url, out var listener));

        Assert.Equal((scheme, path, loopback), (listener.Scheme.ToString().ToLowerInvariant(), listener.Path, listener.IsLoopback));
    }

    [Fact]
    public void Tls_and_websocket_keys_are_read_per_listener()
    {
        var server = _certificates.Server("server");
        var options = new MqttOptions();
        SectionReader reader = SettingsTests.ReadMqtt(new()
        {
            ["Mqtt:TrustedProxies"] = "10.0.0.1, 10.1.0.0/16",
            ["Mqtt:Listeners:secure:Url"] = "wss://0.0.0.0:8084/mqtt",
            ["Mqtt:Listeners:secure:Certificate"] = server.Certificate,
            ["Mqtt:Listeners:secure:CertificateKey"] = server.Key,
            ["Mqtt:Listeners:secure:TlsProtocols"] = "Tls13",
            ["Mqtt:Listeners:secure:ClientCertificates"] = "Optional",
            ["Mqtt:Listeners:secure:ClientCertificateAuthority"] = _certificates.Authority,
            ["Mqtt:Listeners:secure:AllowedOrigins:0"] = "https://app.example.com/",
            ["Mqtt:Listeners:plain:Url"] = "ws://127.0.0.1:8083",
            ["Mqtt:Listeners:plain:TrustedProxies"] = "::1",
        }, options);

        Assert.Empty(reader.Errors);
        var secure = options.Listeners.Single(static l => l.Name == "secure");
        Assert.Equal((SslProtocols.Tls13, ClientCertificateRequirement.Optional, 1), (secure.Tls!.Protocols, secure.Tls.ClientCertificates, secure.Tls.ClientAuthority!.Authorities.Count));
        Assert.Equal(["https://app.example.com"], secure.WebSocket!.AllowedOrigins);
        Assert.Equal([IPNetwork.Parse("10.0.0.1/32"), IPNetwork.Parse("10.1.0.0/16")], secure.WebSocket.TrustedProxies);
        var plain = options.Listeners.Single(static l => l.Name == "plain");
        Assert.Equal((TlsSettings?)null, plain.Tls);
        Assert.Equal([IPNetwork.Parse("::1/128")], plain.WebSocket!.TrustedProxies);
    }

    [Fact]
    public void Bad_transport_keys_are_all_reported()
    {
        SectionReader reader = SettingsTests.ReadMqtt(new()
        {
            ["Mqtt:TrustedProxies"] = "proxy.example",
            ["Mqtt:Listeners:secure:Url"] = "tls://127.0.0.1:8883",
            ["Mqtt:Listeners:secure:TlsProtocols"] = "Tls11",
            ["Mqtt:Listeners:secure:ClientCertificates"] = "Always",
            ["Mqtt:Listeners:mutual:Url"] = "tls://127.0.0.1:8884",
            ["Mqtt:Listeners:mutual:Certificate"] = _certificates.Server("mutual").Certificate,
            ["Mqtt:Listeners:mutual:CertificateKey"] = _certificates.Server("mutual").Key,
            ["Mqtt:Listeners:mutual:ClientCertificates"] = "Required",
            ["Mqtt:Listeners:web:Url"] = "ws://127.0.0.1:8083",
            ["Mqtt:Listeners:web:AllowedOrigins"] = "app.example.com",
            ["Mqtt:Listeners:plain:Url"] = "tcp://127.0.0.1:1884",
            ["Mqtt:Listeners:plain:Certificate"] = "/etc/ssl/server.pem",
        }, new MqttOptions());

        string[] expected =
        [
            "Mqtt:Listeners:mutual:ClientCertificateAuthority must be set when ClientCertificates is Required",
            "Mqtt:Listeners:plain:Certificate is not a known setting",
            "Mqtt:Listeners:secure:Certificate must be set for a tls:// or wss:// listener",
            "Mqtt:Listeners:secure:ClientCertificates 'Always' is not one of None, Optional, Required.",
            "Mqtt:Listeners:secure:TlsProtocols 'Tls11' is not Tls12 or Tls13.",
            "Mqtt:Listeners:web:AllowedOrigins 'app.example.com' is not an origin",
            "Mqtt:TrustedProxies 'proxy.example' is not an IP address or network",
        ];
        SettingsTests.AssertErrors(reader, expected);
    }

    [Theory]
    [InlineData("unix://host/run/mqtt.sock")]
    [InlineData("unix:///")]
    [InlineData("unix:///run/iothub/")]
    [InlineData("unix:///run/mqtt.sock?mode=1")]
    [InlineData("detect://localhost:1883")]
    public void Bad_unix_and_detect_urls_are_refused(string url) => Assert.False(MqttListenerUrl.TryParse("l", url, out _));

    [Fact]
    public void Unix_proxy_limit_and_anonymous_keys_are_read_per_listener()
    {
        var server = _certificates.Server("server");
        var options = new MqttOptions();
        SectionReader reader = SettingsTests.ReadMqtt(new()
        {
            ["Mqtt:TrustedProxies"] = "10.0.0.1",
            ["Mqtt:Listeners:local:Url"] = $"unix://{_workingDirectory.Path}/iothub.sock",
            ["Mqtt:Listeners:local:SocketMode"] = "0606",
            ["Mqtt:Listeners:local:SocketOwner"] = "daemon",
            ["Mqtt:Listeners:local:SocketGroup"] = "0",
            ["Mqtt:Listeners:local:AllowAnonymous"] = "true",
            ["Mqtt:Listeners:edge:Url"] = "detect://0.0.0.0:1884",
            ["Mqtt:Listeners:edge:Certificate"] = server.Certificate,
            ["Mqtt:Listeners:edge:CertificateKey"] = server.Key,
            ["Mqtt:Listeners:edge:ProxyProtocol"] = "true",
            ["Mqtt:Listeners:edge:MaximumConnections"] = "1000",
            ["Mqtt:Listeners:edge:ConnectRate"] = "50",
            ["Mqtt:Listeners:edge:AllowAnonymous"] = "false",
            ["Mqtt:Listeners:plain:Url"] = "tcp://127.0.0.1:1885",
            ["Mqtt:Listeners:plain:ProxyProtocol"] = "true",
            ["Mqtt:Listeners:plain:TrustedProxies"] = "::1",
        }, options);

        Assert.Empty(reader.Errors);
        var local = options.Listeners.Single(static l => l.Name == "local");
        Assert.Equal((UnixFileMode)0x186, local.Unix!.Mode);
        Assert.Equal((1, 0, true), (local.Unix.Owner, local.Unix.Group, local.AllowAnonymous)); // daemon is uid 1 on Debian
        var edge = options.Listeners.Single(static l => l.Name == "edge");
        Assert.Equal((new ConnectionLimits(1000, 50), false), (edge.Limits, edge.AllowAnonymous));
        Assert.Equal([IPNetwork.Parse("10.0.0.1/32")], edge.ProxyProtocol!.TrustedProxies);
        Assert.NotNull(edge.Tls);
        Assert.Equal("/mqtt", edge.Path);
        var plain = options.Listeners.Single(static l => l.Name == "plain");
        Assert.Equal([IPNetwork.Parse("::1/128")], plain.ProxyProtocol!.TrustedProxies);
        Assert.Equal((null, null), (plain.Limits, plain.AllowAnonymous));
        Assert.Null(options.Listeners.Single(static l => l.Name == "local").ProxyProtocol);
    }

    [Fact]
    public void Bad_unix_proxy_and_limit_keys_are_all_reported()
    {
        var file = Path.Combine(_workingDirectory.Path, "not-a-socket");
        File.WriteAllText(file, "");
        var live = Path.Combine(_workingDirectory.Path, "live.sock");
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        other.Bind(new UnixDomainSocketEndPoint(live));
        other.Listen();
        SectionReader reader = SettingsTests.ReadMqtt(new()
        {
            ["Mqtt:Listeners:folder:Url"] = "unix:///no/such/folder/iothub.sock",
            ["Mqtt:Listeners:long:Url"] = "unix:///tmp/" + new string('x', 120),
            ["Mqtt:Listeners:file:Url"] = $"unix://{file}",
            ["Mqtt:Listeners:live:Url"] = $"unix://{live}",
            ["Mqtt:Listeners:live:SocketMode"] = "rw-rw----",
            ["Mqtt:Listeners:live:SocketOwner"] = "no-such-user",
            ["Mqtt:Listeners:live:SocketGroup"] = "no-such-group",
            ["Mqtt:Listeners:tcp:Url"] = "tcp://127.0.0.1:1884",
            ["Mqtt:Listeners:tcp:SocketMode"] = "660",
            ["Mqtt:Listeners:tcp:TrustedProxies"] = "10.0.0.1",
            ["Mqtt:Listeners:tcp:ProxyProtocol"] = "yes",
            ["Mqtt:Listeners:tcp:MaximumConnections"] = "-1",
            ["Mqtt:Listeners:tcp:ConnectRate"] = "many",
            ["Mqtt:Listeners:tcp:AllowAnonymous"] = "sometimes",
            ["Mqtt:Listeners:detect:Url"] = "detect://127.0.0.1:1885",
            ["Mqtt:Listeners:detect:TlsProtocols"] = "Tls13",
        }, new MqttOptions());

        string[] expected =
        [
            "Mqtt:Listeners:detect:TlsProtocols is not a known setting",
            $"Mqtt:Listeners:file:Url '{file}' exists and is not a socket",
            "Mqtt:Listeners:folder:Url '/no/such/folder/iothub.sock' cannot be made: the folder '/no/such/folder' does not exist.",
            $"Mqtt:Listeners:live:Url '{live}' is the socket of a process that listens on it",
            "Mqtt:Listeners:live:SocketGroup 'no-such-group' is not a group name or id of this system.",
            "Mqtt:Listeners:live:SocketMode 'rw-rw----' is not an octal file mode",
            "Mqtt:Listeners:live:SocketOwner 'no-such-user' is not a user name or id of this system.",
            "Mqtt:Listeners:long:Url '/tmp/xxx",
            "Mqtt:Listeners:tcp:AllowAnonymous 'sometimes' is not true or false.",
            "Mqtt:Listeners:tcp:ConnectRate 'many'",
            "Mqtt:Listeners:tcp:MaximumConnections '-1'",
            "Mqtt:Listeners:tcp:ProxyProtocol 'yes' is not true or false.",
            "Mqtt:Listeners:tcp:SocketMode is not a known setting",
            "Mqtt:Listeners:tcp:TrustedProxies is not a known setting",
        ];
        Assert.All(expected, start => Assert.Contains(reader.Errors, e => e.StartsWith(start, StringComparison.Ordinal)));
        Assert.Equal(expected.Length, reader.Errors.Count);
    }

    /// <summary>A revocation list that is not one, or that no authority of the listener signed (here another authority of the same name), stops the start.</summary>
    [Fact]
    public void Unusable_revocation_lists_are_reported()
    {
        var server = _certificates.Server("server");
        using var others = new TestCertificates();
        var foreign = Path.Combine(_workingDirectory.Path, "foreign.crl");
        others.RevocationList(foreign, pem: true);
        var garbage = Path.Combine(_workingDirectory.Path, "garbage.crl");
        File.WriteAllText(garbage, "not a list");
        var settings = new Dictionary<string, string?>();
        foreach (var (name, list) in new[] { ("foreign", foreign), ("garbage", garbage) })
        {
            settings[$"Mqtt:Listeners:{name}:Url"] = "tls://127.0.0.1:0";
            settings[$"Mqtt:Listeners:{name}:Certificate"] = server.Certificate;
            settings[$"Mqtt:Listeners:{name}:CertificateKey"] = server.Key;
            settings[$"Mqtt:Listeners:{name}:ClientCertificates"] = "Required";
            settings[$"Mqtt:Listeners:{name}:ClientCertificateAuthority"] = _certificates.Authority;
            settings[$"Mqtt:Listeners:{name}:ClientCertificateRevocationList"] = list;
        }

        SectionReader reader = SettingsTests.ReadMqtt(settings, new MqttOptions());

        Assert.True(reader.Errors.Count == 2, string.Join("\n", reader.Errors));
        Assert.True(reader.Errors[0].StartsWith($"Mqtt:Listeners:foreign:ClientCertificateRevocationList '{foreign}' is not a certificate revocation list (PEM or DER): no ClientCertificateAuthority certificate named 'CN=IoTHub Test CA' signed it.", StringComparison.Ordinal), reader.Errors[0]);
        Assert.Contains(reader.Errors, e => e.StartsWith($"Mqtt:Listeners:garbage:ClientCertificateRevocationList '{garbage}' is not a certificate revocation list", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/mqtt", true)]
    [InlineData("", true)]
    [InlineData("mqtt", false)]
    [InlineData("/mqtt?x", false)]
    public void Http_MqttPath_is_a_path_or_empty(string path, bool valid)
    {
        var options = new HttpOptions();

        SectionReader reader = SettingsTests.Read("Http", new() { ["Http:MqttPath"] = path }, options);

        Assert.Equal(valid, reader.Errors.Count == 0);
        Assert.Equal(valid ? path : "/mqtt", options.MqttPath);
    }

    /// <summary>A missing, an expired and a mismatched certificate are listed with every other bad key, and the host exits 1.</summary>
    [Fact]
    public async Task Unusable_certificates_stop_the_host_with_every_problem_listed()
    {
        var now = DateTimeOffset.UtcNow;
        var expired = _certificates.Server("expired", notBefore: now.AddDays(-2), notAfter: now.AddDays(-1));
        var one = _certificates.Server("one");
        var other = _certificates.Server("other");
        var missing = Path.Combine(_certificates.Folder, "missing.pem");

        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", Path.Combine(_workingDirectory.Path, "data"),
            "--Mqtt:Listeners:gone:Url=tls://127.0.0.1:0", $"--Mqtt:Listeners:gone:Certificate={missing}",
            "--Mqtt:Listeners:old:Url=wss://127.0.0.1:0/mqtt", $"--Mqtt:Listeners:old:Certificate={expired.Certificate}", $"--Mqtt:Listeners:old:CertificateKey={expired.Key}",
            "--Mqtt:Listeners:mixed:Url=tls://127.0.0.1:0", $"--Mqtt:Listeners:mixed:Certificate={one.Certificate}", $"--Mqtt:Listeners:mixed:CertificateKey={other.Key}",
            "--Mqtt:MaximumPacketSize=1");

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains("IoTHub cannot start:", host.Output, StringComparison.Ordinal);
        Assert.Contains($"Mqtt:Listeners:gone:Certificate '{missing}' does not exist.", host.Output, StringComparison.Ordinal);
        Assert.Contains($"Mqtt:Listeners:old:Certificate '{expired.Certificate}' expired on ", host.Output, StringComparison.Ordinal);
        Assert.Contains($"Mqtt:Listeners:mixed:Certificate '{one.Certificate}' with the key '{other.Key}' cannot be used", host.Output, StringComparison.Ordinal);
        Assert.Contains("Mqtt:MaximumPacketSize '1'", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _certificates.Dispose();
        _workingDirectory.Dispose();
    }
}
