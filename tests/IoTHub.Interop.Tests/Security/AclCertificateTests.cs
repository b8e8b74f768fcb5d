using System.Security.Cryptography.X509Certificates;
using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// A host whose listener "devices" (tls, client certificates required, user names not taken from them) is governed by an
/// acl_file of <see cref="Rules"/>: each device its own tree by the common name of its certificate (<c>${cert_cn}</c>).
/// No authenticator, all on loopback: clients connect without a user name.
/// </summary>
public sealed class AclCertificateHost() : CertificateHost(Settings)
{
    public const string Rules = """
        pattern readwrite devices/${cert_cn}/#
        """;

    private static Dictionary<string, string> Settings(TestCertificates certificates)
    {
        var server = certificates.Server("server");
        var aclFile = Path.Combine(certificates.Folder, "acl");
        File.WriteAllText(aclFile, Rules);
        return new Dictionary<string, string>
        {
            ["Security:Bans:Enabled"] = "false",
            ["Security:AclFile"] = aclFile,
            ["Mqtt:Listeners:devices:Url"] = "tls://127.0.0.1:0",
            ["Mqtt:Listeners:devices:Certificate"] = server.Certificate,
            ["Mqtt:Listeners:devices:CertificateKey"] = server.Key,
            ["Mqtt:Listeners:devices:ClientCertificates"] = "Required",
            ["Mqtt:Listeners:devices:ClientCertificateAuthority"] = certificates.Authority,
        };
    }
}

/// <summary>
/// Issue 17, <c>${cert_cn}</c> in an acl_file pattern with real clients: mosquitto_sub/mosquitto_pub (--cert/--key) and the
/// MQTTnet 5.0 client over tls, each with a certificate made in the test. The device "dev-7" writes and reads its own
/// tree; "dev-8"'s tree refuses it: SUBACK 0x87 and PUBACK 0x87 (5.0 §3.9.3, §3.4.2.1), and the message is dropped.
/// </summary>
public sealed class AclCertificateTests(AclCertificateHost fixture) : IClassFixture<AclCertificateHost>
{
    private const string Sub = "/usr/bin/mosquitto_sub";
    private const string Pub = "/usr/bin/mosquitto_pub";

    [Fact]
    public async Task A_device_may_use_the_tree_of_its_certificate_common_name_and_no_other()
    {
        var dev7 = fixture.Certificates.Client("dev-7");
        var dev8 = fixture.Certificates.Client("dev-8");

        // Each device's own subscriber: one message each, the first that arrives.
        using var sub7 = ChildProcess.Start("/usr/bin/stdbuf", ["-oL", Sub, "-d", .. Tls(dev7), "-i", "cn-acl-sub7", "-q", "1", "-t", "devices/dev-7/#", "-C", "1", "-W", "30", "-F", "MSG %t %p"]);
        using var sub8 = ChildProcess.Start("/usr/bin/stdbuf", ["-oL", Sub, "-d", .. Tls(dev8), "-i", "cn-acl-sub8", "-q", "1", "-t", "devices/dev-8/#", "-C", "1", "-W", "30", "-F", "MSG %t %p"]);
        await Mosquitto.WaitUntilSubscribedAsync(sub7);
        await Mosquitto.WaitUntilSubscribedAsync(sub8);

        using var certificate = X509Certificate2.CreateFromPemFile(dev7.Certificate, dev7.Key);
        await using var device = await MqttNetClient.ConnectAsync(fixture.Host, Protocol.V500, "cn-acl-dev7", transport: builder => builder
            .WithTcpServer("127.0.0.1", fixture.Host.Listener("devices").Port)
            .WithTlsOptions(tls => tls.UseTls().WithCertificateValidationHandler(e => fixture.Certificates.Issued(e.Certificate)).WithClientCertificates([certificate])));

        var subscribed = await device.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("devices/dev-7/in", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("devices/dev-8/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        Assert.Equal([MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.NotAuthorized], subscribed.Items.Select(static item => item.ResultCode));

        var refused = await device.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("devices/dev-8/t").WithPayload("from dev-7")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);

        await device.PublishAsync("devices/dev-7/t", "mine", 1);
        await sub7.WaitForSuccessAsync();
        Assert.Equal(["MSG devices/dev-7/t mine"], Messages(sub7));

        // dev-8's own publish, after the refused one: the only message its subscriber gets.
        using var pub8 = ChildProcess.Start(Pub, [.. Tls(dev8), "-i", "cn-acl-pub8", "-q", "1", "-t", "devices/dev-8/t", "-m", "from dev-8"]);
        await pub8.WaitForSuccessAsync();
        await sub8.WaitForSuccessAsync();
        Assert.Equal(["MSG devices/dev-8/t from dev-8"], Messages(sub8));
    }

    private static List<string> Messages(ChildProcess subscriber) => [.. subscriber.Lines.Where(static line => line.StartsWith("MSG ", StringComparison.Ordinal))];

    private List<string> Tls(PemFiles device) =>
        ["-h", "127.0.0.1", "-p", fixture.Port("devices"), "--cafile", fixture.Certificates.Authority, "--cert", device.Certificate, "--key", device.Key];
}
