using IoTHub.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host of <see cref="PasswordFileHost"/> (anonymous clients allowed) with an acl_file of <see cref="Rules"/> and
/// <c>Security:DenyAction=Disconnect</c>: a refused PUBLISH closes the connection.
/// </summary>
public sealed class AclDenyDisconnectHost : PasswordFileHost
{
    public const string Rules = """
        topic readwrite open/#
        topic read readonly/#
        """;

    public AclDenyDisconnectHost()
        : this(Path.Combine(Directory.CreateTempSubdirectory("iothub-interop-acl-deny-").FullName, "acl"))
    {
    }

    private AclDenyDisconnectHost(string aclFile)
        : base(allowAnonymous: true, Settings(aclFile))
    {
    }

    private static Dictionary<string, string> Settings(string aclFile)
    {
        File.WriteAllText(aclFile, Rules);
        return new() { ["Security:AclFile"] = aclFile, ["Security:DenyAction"] = "Disconnect" };
    }
}

/// <summary>
/// Issue 17, <c>Security:DenyAction=Disconnect</c> with MQTTnet clients: a PUBLISH to a topic the client may not write to
/// closes the connection instead of the acknowledgement 3.1.1 allows either way ([MQTT-3.3.5-2]); a 5.0 client is told
/// why first, with DISCONNECT 0x87 Not authorized (5.0 §3.14.2.1). The refused message reaches nobody.
/// </summary>
public sealed class AclDenyActionTests(AclDenyDisconnectHost fixture) : IClassFixture<AclDenyDisconnectHost>
{
    private readonly InteropHost _host = fixture.Host;

    [Theory]
    [InlineData(Protocol.V311)]
    [InlineData(Protocol.V500)]
    public async Task A_refused_publish_closes_the_connection(Protocol protocol)
    {
        // A reader of readonly/# (which nobody may write to) and of a marker topic.
        await using var reader = await MqttNetClient.ConnectAsync(_host, Protocol.V500, $"deny-reader-{protocol}");
        await reader.SubscribeAsync("readonly/#", 1);
        await reader.SubscribeAsync($"open/marker/{protocol}", 1);

        await using var writer = await MqttNetClient.ConnectAsync(_host, protocol, $"deny-writer-{protocol}");
        var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        writer.Client.DisconnectedAsync += e =>
        {
            disconnected.TrySetResult(e);
            return Task.CompletedTask;
        };

        // Allowed: the connection stays.
        await writer.PublishAsync($"open/marker/{protocol}", "allowed", 1);
        Assert.True(writer.Client.IsConnected);

        // Refused (QoS 0: no acknowledgement to wait for, the close is the answer).
        await writer.Client.PublishStringAsync($"readonly/{protocol}", "refused", MqttQualityOfServiceLevel.AtMostOnce);
        var closed = await disconnected.Task.WaitAsync(MqttNetClient.Timeout);
        Assert.True(closed.ClientWasConnected);
        if (protocol == Protocol.V500)
        {
            Assert.Equal(MqttClientDisconnectReason.NotAuthorized, closed.Reason);
        }

        await _host.WaitUntilOfflineAsync($"deny-writer-{protocol}", MqttNetClient.Timeout);

        // The refused message was dropped: after it, the reader gets only the marker.
        await using var marker = await MqttNetClient.ConnectAsync(_host, Protocol.V500, $"deny-marker-{protocol}");
        await marker.PublishAsync($"open/marker/{protocol}", "marker", 1);
        var received = await reader.WaitForMessagesAsync(2);
        Assert.Equal(["allowed", "marker"], received.Select(static m => m.Payload));
    }
}
