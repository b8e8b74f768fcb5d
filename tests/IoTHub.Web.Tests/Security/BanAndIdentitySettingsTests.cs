using IoTHub.Broker.Security.Certificates;
using IoTHub.Testing;
using IoTHub.Web.Configuration;

namespace IoTHub.Web.Tests.Security;

/// <summary>"Security:Bans" and a listener's "CertificateIdentity" (issue 15): read, defaulted, and every bad value reported at start.</summary>
public sealed class BanAndIdentitySettingsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    [Fact]
    public void Bans_are_read_with_their_defaults()
    {
        var defaults = Security(new(), out var errors);
        Assert.Empty(errors);
        Assert.Equal((true, 10, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), 100_000),
            (defaults.Bans.Enabled, defaults.Bans.MaxFailures, defaults.Bans.Window, defaults.Bans.Duration, defaults.Bans.Capacity));

        var set = Security(new()
        {
            ["Security:Bans:Enabled"] = "false",
            ["Security:Bans:MaxFailures"] = "3",
            ["Security:Bans:Window"] = "00:00:30",
            ["Security:Bans:Duration"] = "01:00:00",
            ["Security:Bans:Capacity"] = "5000",
        }, out errors);
        Assert.Empty(errors);
        Assert.Equal((false, 3, TimeSpan.FromSeconds(30), TimeSpan.FromHours(1), 5000),
            (set.Bans.Enabled, set.Bans.MaxFailures, set.Bans.Window, set.Bans.Duration, set.Bans.Capacity));
    }

    [Fact]
    public void Every_bad_ban_key_is_reported()
    {
        Security(new()
        {
            ["Security:Bans:Enabled"] = "sometimes",
            ["Security:Bans:MaxFailures"] = "0",
            ["Security:Bans:Window"] = "-00:01:00",
            ["Security:Bans:Duration"] = "forever",
            ["Security:Bans:Capacity"] = "10",
            ["Security:Bans:MaxFailure"] = "5",
        }, out var errors);

        string[] expected =
        [
            "Security:Bans:Enabled 'sometimes' is not true or false.",
            "Security:Bans:MaxFailures '0' is not a whole number from 1 to 1000000.",
            "Security:Bans:Window '-00:01:00' is not a positive duration",
            "Security:Bans:Duration 'forever' is not a positive duration",
            "Security:Bans:Capacity '10' is not a whole number from 100 to 10000000.",
            "Security:Bans:MaxFailure is not a known setting",
        ];
        Assert.Equal(expected.Length, errors.Count);
        Assert.All(expected, start => Assert.Contains(errors, e => e.StartsWith(start, StringComparison.Ordinal)));
    }

    [Fact]
    public void CertificateIdentity_is_read_on_tls_and_wss_listeners_that_ask_for_certificates()
    {
        var server = _certificates.Server("server");
        var options = new MqttOptions();
        var reader = SettingsTests.ReadMqtt(new()
        {
            ["Mqtt:Listeners:cn:Url"] = "tls://127.0.0.1:8883",
            ["Mqtt:Listeners:cn:Certificate"] = server.Certificate,
            ["Mqtt:Listeners:cn:CertificateKey"] = server.Key,
            ["Mqtt:Listeners:cn:ClientCertificates"] = "Required",
            ["Mqtt:Listeners:cn:ClientCertificateAuthority"] = _certificates.Authority,
            ["Mqtt:Listeners:cn:CertificateIdentity"] = "commonname",
            ["Mqtt:Listeners:plain:Url"] = "wss://127.0.0.1:8884",
            ["Mqtt:Listeners:plain:Certificate"] = server.Certificate,
            ["Mqtt:Listeners:plain:CertificateKey"] = server.Key,
        }, options);

        Assert.Empty(reader.Errors);
        Assert.Equal(CertificateIdentity.CommonName, options.Listeners.Single(static l => l.Name == "cn").Tls!.CertificateIdentity);
        Assert.Equal(CertificateIdentity.None, options.Listeners.Single(static l => l.Name == "plain").Tls!.CertificateIdentity);
    }

    [Fact]
    public void CertificateIdentity_needs_client_certificates_a_known_value_and_a_secure_listener()
    {
        var server = _certificates.Server("server");
        var reader = SettingsTests.ReadMqtt(new()
        {
            ["Mqtt:Listeners:none:Url"] = "tls://127.0.0.1:8883",
            ["Mqtt:Listeners:none:Certificate"] = server.Certificate,
            ["Mqtt:Listeners:none:CertificateKey"] = server.Key,
            ["Mqtt:Listeners:none:CertificateIdentity"] = "CommonName",
            ["Mqtt:Listeners:odd:Url"] = "tls://127.0.0.1:8884",
            ["Mqtt:Listeners:odd:Certificate"] = server.Certificate,
            ["Mqtt:Listeners:odd:CertificateKey"] = server.Key,
            ["Mqtt:Listeners:odd:CertificateIdentity"] = "Subject",
            ["Mqtt:Listeners:tcp:Url"] = "tcp://127.0.0.1:1884",
            ["Mqtt:Listeners:tcp:CertificateIdentity"] = "CommonName",
        }, new MqttOptions());

        string[] expected =
        [
            "Mqtt:Listeners:none:CertificateIdentity needs ClientCertificates Optional or Required",
            "Mqtt:Listeners:odd:CertificateIdentity 'Subject' is not one of None, CommonName, SubjectAlternativeName.",
            "Mqtt:Listeners:tcp:CertificateIdentity is not a known setting",
        ];
        Assert.Equal(expected.Length, reader.Errors.Count);
        Assert.All(expected, start => Assert.Contains(reader.Errors, e => e.StartsWith(start, StringComparison.Ordinal)));
    }

    public void Dispose() => _certificates.Dispose();

    private static SecurityOptions Security(Dictionary<string, string?> values, out IReadOnlyList<string> errors) => SecuritySettingsTests.Read(values, out errors);
}
