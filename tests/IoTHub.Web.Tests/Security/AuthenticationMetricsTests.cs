using System.Diagnostics;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Web.Tests.Security;

/// <summary>A host with a password file from the real mosquitto_passwd (alice / alice-secret).</summary>
public sealed class PasswordFileKestrelHost : KestrelHost
{
    private readonly string _folder;

    public PasswordFileKestrelHost()
        : this(Directory.CreateTempSubdirectory("iothub-web-passwords-").FullName)
    {
    }

    private PasswordFileKestrelHost(string folder)
        : base(new Dictionary<string, string> { ["Security:PasswordFile"] = WritePasswordFile(folder) }) => _folder = folder;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Directory.Delete(_folder, recursive: true);
    }

    private static string WritePasswordFile(string folder)
    {
        var path = Path.Combine(folder, "passwords");
        using var passwd = Process.Start("/usr/bin/mosquitto_passwd", ["-c", "-b", path, "alice", "alice-secret"]);
        Assert.True(passwd.WaitForExit(TimeSpan.FromSeconds(20)) && passwd.ExitCode == 0, "mosquitto_passwd failed");
        return path;
    }
}

/// <summary>
/// Every authentication decision is counted in iothub_authentication_total{result,method} (issue 15), cache hits included.
/// Runs alone (see <see cref="MetricsRunAlone"/>): with other hosts in the process, a scrape may read their counters.
/// </summary>
[Collection(nameof(MetricsRunAlone))]
public sealed class AuthenticationMetricsTests(PasswordFileKestrelHost host) : IClassFixture<PasswordFileKestrelHost>
{
    [Fact]
    public async Task Decisions_are_counted_by_result_and_method()
    {
        var before = await MetricsScrape.ReadAsync(host.Client);
        Assert.Contains(Series("deny", "anonymous"), before.Keys); // reported before anything happened, zero included

        await ConnectAsync("alice", "alice-secret", ReasonCode.Success);
        await ConnectAsync("alice", "alice-secret", ReasonCode.Success); // a cache hit: a decision all the same
        await ConnectAsync("alice", "wrong", ReasonCode.BadUserNameOrPassword);
        await ConnectAsync("nobody", "x", ReasonCode.BadUserNameOrPassword);
        await ConnectAsync(null, null, ReasonCode.NotAuthorized);

        var after = await MetricsScrape.ReadAsync(host.Client);
        double Delta(string result, string method) => after[Series(result, method)] - before.GetValueOrDefault(Series(result, method));
        Assert.Equal(2, Delta("allow", "password_file"));
        Assert.Equal(1, Delta("deny", "password_file"));
        Assert.Equal(2, Delta("deny", "anonymous"));
        Assert.Equal(0, Delta("allow", "anonymous"));
    }

    private static string Series(string result, string method) => $"iothub_authentication_total{{method=\"{method}\",result=\"{result}\"}}";

    private async Task ConnectAsync(string? userName, string? password, ReasonCode expected)
    {
        await using var client = await MqttTestClient.OpenTcpAsync(host.MqttEndpoint, MqttProtocolVersion.V500);
        var connAck = await client.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = MqttProtocolVersion.V500,
            ClientId = "metrics-client",
            UserName = userName,
            Password = password is null ? null : System.Text.Encoding.UTF8.GetBytes(password),
        });
        Assert.Equal(expected, connAck.ReasonCode);
    }
}
