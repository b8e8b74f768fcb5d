using IoTHub.Testing;
using IoTHub.Web.Configuration;

namespace IoTHub.Web.Tests.Https;

/// <summary>HTTPS on the HTTP endpoint (Http:Certificate, ...): checked at start like a tls:// listener's certificates.</summary>
public sealed class HttpsSettingsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();
    private readonly TempDirectory _workingDirectory = new();

    [Fact]
    public void A_certificate_makes_the_endpoint_https_and_its_mqtt_path_wss()
    {
        var server = _certificates.Server("http");
        var options = new HttpOptions();

        var reader = SettingsTests.Read("Http", new() { ["Http:Certificate"] = server.Certificate, ["Http:CertificateKey"] = server.Key, ["Http:HstsMaxAge"] = "1.00:00:00" }, options);

        Assert.Empty(reader.Errors);
        Assert.Equal(("https", "CN=localhost", TimeSpan.FromDays(1)), (options.Scheme, options.Tls!.Certificates[0].Certificate.Subject, options.HstsMaxAge));
        Assert.Equal(ListenerScheme.Wss, options.MqttListener([])!.Scheme);
        Assert.Equal(ListenerScheme.Ws, new HttpOptions().MqttListener([])!.Scheme);
    }

    [Fact]
    public void Bad_https_keys_are_all_reported()
    {
        var reader = SettingsTests.Read("Http", new()
        {
            ["Http:CertificateKey"] = "/etc/iothub/server.key",
            ["Http:TlsProtocols"] = "Ssl3",
            ["Http:HstsMaxAge"] = "-00:00:01",
            ["Http:ClientCertificates"] = "Required",
        });

        string[] expected =
        [
            "Http:CertificateKey is set without Certificate.",
            "Http:TlsProtocols 'Ssl3' is not Tls12 or Tls13.",
            "Http:HstsMaxAge '-00:00:01' is not a duration",
            "Http:ClientCertificates is not a known setting",
        ];
        SettingsTests.AssertErrors(reader, expected);
    }

    [Theory]
    [InlineData("ws://127.0.0.1:8083", null, null)]
    [InlineData("ws://127.0.0.1:8083", "Http2", null)]
    [InlineData("ws://127.0.0.1:8083", "Http1AndHttp2", "cannot be Http1AndHttp2 on a ws:// listener")]
    [InlineData("ws://127.0.0.1:8083", "Http3", "'Http3' is not Http1, Http2 or Http1AndHttp2.")]
    [InlineData("wss://127.0.0.1:8084", "Http1", null)]
    [InlineData("detect://127.0.0.1:8085", "Http1", null)]
    [InlineData("detect://127.0.0.1:8085", "Http2", "can only be Http1 on a detect:// listener")]
    public void HttpProtocols_of_a_websocket_listener(string url, string? protocols, string? problem)
    {
        var server = _certificates.Server("wss");
        var values = new Dictionary<string, string?> { ["Mqtt:Listeners:web:Url"] = url, ["Mqtt:Listeners:web:HttpProtocols"] = protocols };
        if (url.StartsWith("wss", StringComparison.Ordinal))
        {
            values["Mqtt:Listeners:web:Certificate"] = server.Certificate;
            values["Mqtt:Listeners:web:CertificateKey"] = server.Key;
        }

        var reader = SettingsTests.ReadMqtt(values, new MqttOptions());

        if (problem is null)
        {
            Assert.Empty(reader.Errors);
        }
        else
        {
            Assert.Contains(problem, Assert.Single(reader.Errors), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_expired_https_certificate_stops_the_host_with_the_other_problems()
    {
        var now = DateTimeOffset.UtcNow;
        var expired = _certificates.Server("expired", notBefore: now.AddDays(-2), notAfter: now.AddDays(-1));

        using var host = Start($"--Http:Certificate={expired.Certificate}", $"--Http:CertificateKey={expired.Key}", "--Mqtt:MaximumPacketSize=1");

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains($"Http:Certificate '{expired.Certificate}' expired on ", host.Output, StringComparison.Ordinal);
        Assert.Contains("Mqtt:MaximumPacketSize '1'", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_host_logs_https_and_warns_about_plain_http_beyond_loopback()
    {
        var server = _certificates.Server("logged");
        using (var https = Start($"--Http:Certificate={server.Certificate}", $"--Http:CertificateKey={server.Key}"))
        {
            await https.WaitForLineAsync("HTTP listening on https://127.0.0.1:");
            Assert.DoesNotContain("plain HTTP", https.Output, StringComparison.Ordinal);
        }

        using var plain = Start("--Http:Address=0.0.0.0", "--Http:MqttPath=");
        var warning = await plain.WaitForLineAsync("is plain HTTP beyond loopback");
        Assert.Contains("HTTP on http://0.0.0.0:", warning, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _certificates.Dispose();
        _workingDirectory.Dispose();
    }

    private HostProcess Start(params string[] arguments) => HostProcess.Start(_workingDirectory.Path,
        ["--http-port", "0", "--mqtt-port", "0", "--data-dir", Path.Combine(_workingDirectory.Path, "data"), "--Storage:Provider=memory", .. arguments]);
}
