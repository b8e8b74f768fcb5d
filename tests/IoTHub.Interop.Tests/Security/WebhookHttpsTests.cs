using IoTHub.Testing;
using MQTTnet;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host with two webhooks on one <see cref="WebhookServer"/> served over https with a certificate of a test
/// authority (<see cref="TestCertificates"/>) that the system does not trust: 0 without a CaFile (FailurePolicy NotMine,
/// so its failure passes the client on), then 1 trusting the test authority through its CaFile and sending
/// <see cref="Token"/> and a tenant as headers. Logs go to <see cref="Logs"/>; bans are off.
/// </summary>
public sealed class WebhookHttpsHost : IDisposable
{
    public const string Token = "Bearer webhook-service-token-5d2";

    public WebhookHttpsHost()
    {
        Webhook = new WebhookServer(Certificates.Server("webhook"));
        Host = new InteropHost(new Dictionary<string, string>
        {
            ["Security:Authenticators:0:Type"] = "Webhook",
            ["Security:Authenticators:0:Url"] = Webhook.Url.ToString(),
            ["Security:Authenticators:0:Timeout"] = "00:00:02",
            ["Security:Authenticators:0:FailurePolicy"] = "NotMine",
            ["Security:Authenticators:1:Type"] = "Webhook",
            ["Security:Authenticators:1:Url"] = Webhook.Url.ToString(),
            ["Security:Authenticators:1:CaFile"] = Certificates.Authority,
            ["Security:Authenticators:1:Headers:Authorization"] = Token,
            ["Security:Authenticators:1:Headers:X-Tenant"] = "plant-7",
            ["Security:Authenticators:1:Timeout"] = "00:00:02",
            ["Security:Bans:Enabled"] = "false",
            ["Logging:LogLevel:IoTHub"] = "Information",
        }, Logs);
    }

    public TestCertificates Certificates { get; } = new();

    public WebhookServer Webhook { get; }

    public InteropHost Host { get; }

    public LogCapture Logs { get; } = new();

    public void Dispose()
    {
        Host.Dispose();
        Webhook.Dispose();
        Certificates.Dispose();
    }
}

/// <summary>
/// Issue 18: a webhook over https trusts the private authority of its CaFile (certificate validation stays on: the
/// system's roots alone refuse the same server) and sends its configured headers, never logged; each webhook keeps its
/// own connections, so one that trusts the server never lends a connection to one that does not.
/// </summary>
public sealed class WebhookHttpsTests(WebhookHttpsHost fixture) : IClassFixture<WebhookHttpsHost>
{
    [Theory]
    [InlineData("allow-https-1")]
    [InlineData("allow-https-2")]
    public async Task The_CaFile_is_trusted_and_the_headers_are_sent(string userName)
    {
        var connected = await MqttNetClient.AnswerAsync(MqttNetClient.Options(fixture.Host, Protocol.V500, "https-" + userName, userName, "x"));
        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);

        // Webhook 0 (system roots) failed at the TLS handshake, before sending; webhook 1 asked once, with its headers.
        var headers = Assert.Single(fixture.Webhook.Headers(userName));
        Assert.Equal((WebhookHttpsHost.Token, "plant-7"), (headers["Authorization"], headers["X-Tenant"]));
        Assert.Contains(fixture.Logs.Lines, static line => line.EventId == 1160 && line.Message.Contains("Security:Authenticators:0", StringComparison.Ordinal));
        Assert.DoesNotContain(fixture.Logs.Lines, static line => line.Message.Contains("webhook-service-token", StringComparison.Ordinal));
    }
}
