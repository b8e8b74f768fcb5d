using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Cluster.Nodes;
using IoTHub.Testing;
using IoTHub.Web.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests;

public sealed class ClusterSettingsTests : IDisposable
{
    private readonly TempDirectory _workingDirectory = new();

    public void Dispose() => _workingDirectory.Dispose();

    [Fact]
    public void ClusterKeysAreReadWithTheirDefaults()
    {
        var defaults = new ClusterOptions();
        var empty = Reader([]);
        defaults.Read(empty);
        Assert.Empty(empty.Errors);
        Assert.False(defaults.Enabled);
        Assert.Equal(IPAddress.Loopback, defaults.AdvertisedAddress);

        var options = new ClusterOptions();
        var good = Reader(new()
        {
            ["Cluster:Enabled"] = "true", ["Cluster:Name"] = "plant-7", ["Cluster:ConnectionString"] = "Host=db", ["Cluster:Port"] = "11112",
            ["Cluster:AdvertisedAddress"] = "10.0.0.11", ["Cluster:ProbeTimeout"] = "00:00:02", ["Cluster:MissedProbesLimit"] = "3",
            ["Cluster:IAmAliveInterval"] = "00:00:10",
        });
        options.Read(good);
        good.RejectUnknownKeys();
        Assert.Empty(good.Errors);
        Assert.True(options.Enabled);
        Assert.Equal("plant-7", options.Name);
        Assert.Equal("Host=db", options.ConnectionString);
        Assert.Equal(11112, options.Port);
        Assert.Equal(IPAddress.Parse("10.0.0.11"), options.AdvertisedAddress);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ProbeTimeout);
        Assert.Equal(3, options.MissedProbesLimit);
        Assert.Equal(TimeSpan.FromSeconds(10), options.IAmAliveInterval);
    }

    [Fact]
    public void EveryBadClusterKeyIsReported()
    {
        var bad = Reader(new()
        {
            ["Cluster:Enabled"] = "yes", ["Cluster:Name"] = "two words", ["Cluster:Port"] = "0", ["Cluster:AdvertisedAddress"] = "0.0.0.0",
            ["Cluster:ProbeTimeout"] = "soon", ["Cluster:MissedProbesLimit"] = "0", ["Cluster:Prot"] = "11111",
        });
        new ClusterOptions().Read(bad);
        bad.RejectUnknownKeys();

        Assert.Collection(
            bad.Errors,
            e => Assert.StartsWith("Cluster:Enabled 'yes'", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Cluster:Name 'two words' is not a cluster name", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Cluster:Port '0' is not a whole number from 1 to 65535", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Cluster:AdvertisedAddress '0.0.0.0' is not an IP address other nodes can reach", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Cluster:ProbeTimeout 'soon' is not a duration from 00:00:00.1 to 00:01:00", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Cluster:MissedProbesLimit '0'", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Cluster:Prot is not a known setting", e, StringComparison.Ordinal));
    }

    [Fact]
    public async Task BadClusterSettingsStopTheHostNamingEveryOne()
    {
        var (exitCode, output) = await RunUntilExitAsync("--Cluster:Enabled=true", "--Cluster:Port=70000", "--Cluster:AdvertisedAddress=::", "--Cluster:Prot=1");

        Assert.Equal(1, exitCode);
        Assert.Contains("Cluster:ConnectionString is required when Cluster:Enabled is true", output, StringComparison.Ordinal);
        Assert.Contains("Cluster:Port '70000'", output, StringComparison.Ordinal);
        Assert.Contains("Cluster:AdvertisedAddress '::'", output, StringComparison.Ordinal);
        Assert.Contains("Cluster:Prot is not a known setting", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Orleans", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AConnectionStringThatIsNotPostgresStopsTheHost()
    {
        var (exitCode, output) = await RunUntilExitAsync("--Cluster:Enabled=true", "--Cluster:ConnectionString=Flavour=vanilla");

        Assert.Equal(1, exitCode);
        Assert.Contains("Cluster:ConnectionString is not a PostgreSQL connection string", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnApplicationNameTooLongToCarryTheNodesNameStopsTheHost()
    {
        // PostgreSQL keeps 63 bytes: cut, the node's name would be lost and a survivor could not end the node's database sessions.
        var (exitCode, output) = await RunUntilExitAsync("--Storage:Provider=memory", "--Cluster:Enabled=true",
            $"--Cluster:ConnectionString=Host=127.0.0.1;Username=nobody;Application Name={new string('a', 50)}");

        Assert.Equal(1, exitCode);
        Assert.Contains("Cluster:ConnectionString: its Application Name with the node's name", output, StringComparison.Ordinal);
        Assert.Contains("longer than 63 bytes", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AClusterDatabaseThatCannotBeReachedStopsTheHostWithOneLine()
    {
        var (exitCode, output) = await RunUntilExitAsync("--Storage:Provider=memory", "--Cluster:Enabled=true", $"--Cluster:Port={FreePort.Next()}",
            $"--Cluster:ConnectionString=Host=127.0.0.1;Port={FreePort.Next()};Username=nobody");

        Assert.Equal(1, exitCode);
        Assert.Contains("IoTHub cannot start:", output, StringComparison.Ordinal);
        Assert.Contains("Cluster:ConnectionString: the cluster's PostgreSQL database cannot be used: Failed to connect", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutClusteringTheApiShowsThisProcessAloneAndOrleansIsNotThere()
    {
        using var host = new AdminApiHost();
        var admin = await host.AdminAsync();
        await using (var connected = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "single-node-client"))
        {
            var response = await admin.GetAsync("/api/v1/cluster");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.False(body.GetProperty("enabled").GetBoolean());
            Assert.Equal("iothub", body.GetProperty("name").GetString());
            var node = Assert.Single(body.GetProperty("nodes").EnumerateArray().ToList());
            Assert.Equal(body.GetProperty("self").GetString(), node.GetProperty("id").GetString());
            Assert.Equal("active", node.GetProperty("status").GetString());
            Assert.Equal(1, node.GetProperty("connections").GetInt32());
            Assert.True(node.GetProperty("self").GetBoolean());
        }

        // A viewer may read it too.
        Assert.Equal(HttpStatusCode.OK, (await (await host.ViewerAsync()).GetAsync("/api/v1/cluster")).StatusCode);
        Assert.IsType<LocalNodeOnly>(host.Services.GetRequiredService<IClusterNodes>());
        Assert.DoesNotContain(host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>(),
            static s => s.GetType().Namespace?.StartsWith("Orleans", StringComparison.Ordinal) == true);
    }

    /// <summary>Starts the built host with these settings (and any free HTTP and MQTT port) and waits for it to give up.</summary>
    private async Task<(int ExitCode, string Output)> RunUntilExitAsync(params string[] settings)
    {
        using var host = HostProcess.Start(_workingDirectory.Path,
            ["--http-port", "0", "--mqtt-port", "0", "--data-dir", Path.Combine(_workingDirectory.Path, "data"), .. settings]);
        return (await host.WaitForExitAsync(), host.Output);
    }

    private static SectionReader Reader(Dictionary<string, string?> values) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(ClusterOptions.SectionName));
}
