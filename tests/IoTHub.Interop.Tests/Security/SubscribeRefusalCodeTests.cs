using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host of <see cref="PasswordFileHost"/> (anonymous clients allowed) with the Eclipse Paho suites' acl_file (everything
/// but <c>test/nosubscribe</c>) and <c>Security:SubscribeRefusalCode=UnspecifiedError</c>.
/// </summary>
public sealed class SubscribeRefusalCodeHost : PasswordFileHost
{
    public const string Rules = """
        topic readwrite #
        topic deny test/nosubscribe
        """;

    public SubscribeRefusalCodeHost()
        : this(Path.Combine(Directory.CreateTempSubdirectory("iothub-interop-acl-code-").FullName, "acl"))
    {
    }

    private SubscribeRefusalCodeHost(string aclFile)
        : base(allowAnonymous: true, Settings(aclFile))
    {
    }

    private static Dictionary<string, string> Settings(string aclFile)
    {
        File.WriteAllText(aclFile, Rules);
        return new() { ["Security:AclFile"] = aclFile, ["Security:SubscribeRefusalCode"] = "UnspecifiedError" };
    }
}

/// <summary>
/// Issue 17, <c>Security:SubscribeRefusalCode=UnspecifiedError</c>: an MQTT 5.0 client whose filter is refused gets 0x80
/// Unspecified error instead of 0x87 Not authorized (both are SUBACK codes of 5.0 §3.9.3, [MQTT-3.9.3-2] one per
/// filter, in order), for 5.0 clients that know only 3.1.1's failure code, as the Eclipse Paho 5.0 test client does. The
/// other filters of the same SUBSCRIBE are granted. The default, 0x87, is what the other ACL tests see.
/// </summary>
public sealed class SubscribeRefusalCodeTests(SubscribeRefusalCodeHost fixture) : IClassFixture<SubscribeRefusalCodeHost>
{
    [Fact]
    public async Task A_refused_filter_answers_the_configured_code_and_the_others_are_granted()
    {
        await using var client = await MqttNetClient.ConnectAsync(fixture.Host, Protocol.V500, "refusal-code");
        var result = await client.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("test/allowed", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("test/nosubscribe", MqttQualityOfServiceLevel.ExactlyOnce)
            .Build());

        Assert.Equal(
            [MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.UnspecifiedError],
            result.Items.Select(static item => item.ResultCode));
    }
}
