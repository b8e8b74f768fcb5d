using IoTHub.Mqtt;
using IoTHub.Testing;
using IoTHub.Web.Configuration;

namespace IoTHub.Web.Tests.Security;

/// <summary>A host with an acl_file: anonymous clients may read and write <c>open/#</c>, nothing else (the default is deny).</summary>
public sealed class AclFileKestrelHost : KestrelHost
{
    private readonly string _folder;

    public AclFileKestrelHost()
        : this(Directory.CreateTempSubdirectory("iothub-web-acl-").FullName)
    {
    }

    private AclFileKestrelHost(string folder)
        : base(new Dictionary<string, string> { ["Security:AclFile"] = WriteAclFile(folder) }) => _folder = folder;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Directory.Delete(_folder, recursive: true);
    }

    private static string WriteAclFile(string folder)
    {
        var path = Path.Combine(folder, "acl");
        File.WriteAllText(path, "topic readwrite open/#\n");
        return path;
    }
}

/// <summary>
/// Access decisions are counted in iothub_authorization_total{action,result} (issue 17). Runs alone (see
/// <see cref="MetricsRunAlone"/>): with other hosts in the process, a scrape may read their counters.
/// </summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class AuthorizationMetricsTests(AclFileKestrelHost host) : IClassFixture<AclFileKestrelHost>
{
    [Fact]
    public async Task Decisions_are_counted_by_action_and_result()
    {
        var before = await MetricsScrape.ReadAsync(host.Client);
        Assert.Contains(Series("subscribe", "deny"), before.Keys); // reported before anything happened

        await using (var client = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500))
        {
            await client.ConnectAcceptedAsync(new ConnectPacket { ProtocolVersion = MqttProtocolVersion.V500, ClientId = "acl-metrics" });
            Assert.Equal([ReasonCode.GrantedQoS1], (await client.SubscribeAsync("open/+", QualityOfService.AtLeastOnce)).ReasonCodes);
            Assert.Equal([ReasonCode.NotAuthorized], (await client.SubscribeAsync("#", QualityOfService.AtLeastOnce)).ReasonCodes);
            await client.PublishAsync("open/a", "yes", QualityOfService.AtLeastOnce);
            Assert.Equal(ReasonCode.Success, (await client.ExpectAckAsync(PacketType.PubAck)).ReasonCode);
            await client.PublishAsync("closed/a", "no", QualityOfService.AtLeastOnce);
            Assert.Equal(ReasonCode.NotAuthorized, (await client.ExpectAckAsync(PacketType.PubAck)).ReasonCode);
        }

        var after = await MetricsScrape.ReadAsync(host.Client);
        double Delta(string action, string result) => after[Series(action, result)] - before.GetValueOrDefault(Series(action, result));
        Assert.Equal(1, Delta("subscribe", "allow"));
        Assert.Equal(1, Delta("subscribe", "deny"));
        Assert.Equal(1, Delta("publish", "allow"));
        Assert.Equal(1, Delta("publish", "deny"));
    }

    private static string Series(string action, string result) => $"iothub_authorization_total{{action=\"{action}\",result=\"{result}\"}}";
}

/// <summary>The authorization keys of the "Security" section, each bad value reported.</summary>
public sealed class AuthorizationSettingsTests
{
    [Fact]
    public void The_acl_keys_are_read_and_bad_values_listed()
    {
        var options = SecuritySettingsTests.Read(new() { ["Security:AclFile"] = "/etc/iothub/acl", ["Security:AclDefault"] = "Allow", ["Security:DenyAction"] = "disconnect" },
            out var errors);
        Assert.Empty(errors);
        Assert.Equal(("/etc/iothub/acl", AclDefault.Allow, DenyAction.Disconnect), (options.AclFile, options.AclDefault, options.DenyAction));

        var defaults = SecuritySettingsTests.Read([], out _);
        Assert.Equal((null, null, DenyAction.Ignore), (defaults.AclFile, defaults.AclDefault, defaults.DenyAction));

        SecuritySettingsTests.Read(new() { ["Security:AclFile"] = "", ["Security:AclDefault"] = "maybe", ["Security:DenyAction"] = "Kick" }, out errors);
        Assert.Contains(errors, static e => e.StartsWith("Security:AclFile '' must not be empty", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:AclDefault 'maybe' is not allow or deny", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:DenyAction 'Kick' is not one of Ignore, Disconnect", StringComparison.Ordinal));
    }
}
