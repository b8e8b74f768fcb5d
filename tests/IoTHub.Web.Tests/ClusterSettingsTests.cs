using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
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
        Assert.Equal(TimeSpan.FromSeconds(5), defaults.ForwardAckTimeout);

        var options = new ClusterOptions();
        var good = Reader(new()
        {
            ["Cluster:Enabled"] = "true", ["Cluster:Name"] = "plant-7", ["Cluster:ConnectionString"] = "Host=db", ["Cluster:Port"] = "11112",
            ["Cluster:AdvertisedAddress"] = "10.0.0.11", ["Cluster:ProbeTimeout"] = "00:00:02", ["Cluster:MissedProbesLimit"] = "3",
            ["Cluster:IAmAliveInterval"] = "00:00:10", ["Cluster:Routing:ForwardAckTimeout"] = "00:00:03",
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
        Assert.Equal(TimeSpan.FromSeconds(3), options.ForwardAckTimeout);
    }

    [Fact]
    public void EveryBadClusterKeyIsReported()
    {
        var bad = Reader(new()
        {
            ["Cluster:Enabled"] = "yes", ["Cluster:Name"] = "two words", ["Cluster:Port"] = "0", ["Cluster:AdvertisedAddress"] = "0.0.0.0",
            ["Cluster:ProbeTimeout"] = "soon", ["Cluster:MissedProbesLimit"] = "0", ["Cluster:Prot"] = "11111",
            ["Cluster:Routing:ForwardAckTimeout"] = "00:05:00", ["Cluster:Routing:ForwardAckTimout"] = "00:00:01",
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
            e => Assert.StartsWith("Cluster:Routing:ForwardAckTimeout '00:05:00' is not a duration from 00:00:00.1 to 00:01:00", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Cluster:Routing:ForwardAckTimout is not a known setting", e, StringComparison.Ordinal),
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
    public void TlsBetweenNodesLoadsAPemOrPfxNodeCertificateOfTheClusterCa()
    {
        using var certificates = new TestCertificates();
        var node = certificates.Node("node-a");
        Assert.Null(ReadCluster(new() { ["Cluster:Enabled"] = "true" }, out var plain).Tls);
        Assert.Empty(plain);

        var pem = ReadCluster(Tls(node.Certificate, node.Key, certificates.Authority), out var errors).Tls;
        Assert.Empty(errors);
        Assert.NotNull(pem);
        Assert.Equal("CN=node-a", pem.Certificate.Subject);
        Assert.True(pem.Certificate.HasPrivateKey);
        Assert.Equal(certificates.Authority, pem.CaPath);

        // The check a peer must pass: a certificate of the cluster's CA, not one of another CA.
        Assert.True(pem.AcceptsPeer(this, X509CertificateLoader.LoadCertificateFromFile(certificates.Node("node-b").Certificate), null, default));
        Assert.False(pem.AcceptsPeer(this, X509CertificateLoader.LoadCertificateFromFile(certificates.Node("outsider", trusted: false).Certificate), null, default));
        Assert.False(pem.AcceptsPeer(this, null, null, default));

        var pfx = Path.Combine(certificates.Folder, "node-a.pfx");
        File.WriteAllBytes(pfx, X509Certificate2.CreateFromPemFile(node.Certificate, node.Key).Export(X509ContentType.Pkcs12, "pfx-secret"));
        var values = Tls(pfx, null, certificates.Authority);
        values["Cluster:Tls:Password"] = "pfx-secret";
        Assert.Equal("CN=node-a", ReadCluster(values, out errors).Tls?.Certificate.Subject);
        Assert.Empty(errors);

        // Without clustering the files are not read.
        values = Tls("missing.pem", null, null);
        values["Cluster:Enabled"] = "false";
        Assert.Null(ReadCluster(values, out errors).Tls);
        Assert.Empty(errors);
    }

    [Fact]
    public void EveryBadTlsKeyIsReported()
    {
        using var certificates = new TestCertificates();
        var node = certificates.Node("node-a");
        var other = certificates.Node("node-b");

        ReadCluster(Tls(null, null, null), out var errors);
        Assert.Collection(
            errors,
            e => Assert.StartsWith("Cluster:Tls:CertificatePath must be set when Cluster:Tls:Enabled is true", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Cluster:Tls:CaPath must be set when Cluster:Tls:Enabled is true", e, StringComparison.Ordinal));

        var values = Tls("missing.pem", "missing.key", "missing-ca.pem");
        values["Cluster:Tls:CaFile"] = "ca.pem";
        ReadCluster(values, out errors);
        Assert.Collection(
            errors,
            e => Assert.Equal("Cluster:Tls:CaFile is not a known setting (known: Enabled, CertificatePath, KeyPath, Password, CaPath).", e),
            e => Assert.Equal("Cluster:Tls:CertificatePath 'missing.pem' does not exist.", e),
            e => Assert.Equal("Cluster:Tls:KeyPath 'missing.key' does not exist.", e),
            e => Assert.Equal("Cluster:Tls:CaPath 'missing-ca.pem' does not exist.", e));

        // A key that is not the certificate's, and a CA file without a certificate: both reported.
        ReadCluster(Tls(node.Certificate, other.Key, node.Key), out errors);
        Assert.Collection(
            errors,
            e => Assert.StartsWith($"Cluster:Tls:CertificatePath '{node.Certificate}' with the key '{other.Key}' cannot be used", e, StringComparison.Ordinal),
            e => Assert.Equal($"Cluster:Tls:CaPath '{node.Key}' holds no PEM certificate.", e));

        // Signed by another CA, or good for TLS clients only: the other nodes would refuse it.
        foreach (var refused in new[] { certificates.Node("outsider", trusted: false), certificates.Client("client-only") })
        {
            ReadCluster(Tls(refused.Certificate, refused.Key, certificates.Authority), out errors);
            Assert.StartsWith($"Cluster:Tls:CertificatePath '{refused.Certificate}' is not a node certificate of this cluster", Assert.Single(errors), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheTlsPasswordIsHiddenFromTheEffectiveSettings()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:Tls:Enabled"] = "true", ["Cluster:Tls:CertificatePath"] = "node.pfx", ["Cluster:Tls:Password"] = "pfx-secret",
        }).Build();
        var effective = new EffectiveSettings(configuration);

        new ClusterOptions().Read(new SectionReader(configuration.GetSection(ClusterOptions.SectionName), effective: effective));

        var settings = effective.Settings.ToDictionary(static s => s.Key, static s => s.Value);
        Assert.Equal(EffectiveSettings.Hidden, settings["Cluster:Tls:Password"]);
        Assert.Equal("node.pfx", settings["Cluster:Tls:CertificatePath"]);
        Assert.Equal("true", settings["Cluster:Tls:Enabled"]);
    }

    [Fact]
    public async Task BadTlsSettingsStopTheHostNamingEachKey()
    {
        using var certificates = new TestCertificates();
        var missing = Path.Combine(certificates.Folder, "missing.key");
        var (exitCode, output) = await RunUntilExitAsync("--Cluster:Enabled=true", "--Cluster:ConnectionString=Host=127.0.0.1;Username=nobody",
            "--Cluster:Tls:Enabled=true", $"--Cluster:Tls:CertificatePath={certificates.Node("outsider", trusted: false).Certificate}",
            $"--Cluster:Tls:KeyPath={missing}");

        Assert.Equal(1, exitCode);
        Assert.Contains("IoTHub cannot start:", output, StringComparison.Ordinal);
        Assert.Contains($"Cluster:Tls:KeyPath '{missing}' does not exist.", output, StringComparison.Ordinal);
        Assert.Contains("Cluster:Tls:CaPath must be set when Cluster:Tls:Enabled is true", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("node-to-node traffic is", output, StringComparison.Ordinal);
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

    /// <summary>Cluster:Tls enabled (in an enabled cluster) with these paths; null leaves a key out.</summary>
    private static Dictionary<string, string?> Tls(string? certificate, string? key, string? ca)
    {
        var values = new Dictionary<string, string?> { ["Cluster:Enabled"] = "true", ["Cluster:Tls:Enabled"] = "true" };
        foreach (var (name, value) in new[] { ("CertificatePath", certificate), ("KeyPath", key), ("CaPath", ca) })
        {
            if (value is not null)
            {
                values["Cluster:Tls:" + name] = value;
            }
        }

        return values;
    }

    private static ClusterOptions ReadCluster(Dictionary<string, string?> values, out IReadOnlyList<string> errors)
    {
        var options = new ClusterOptions();
        var reader = Reader(values);
        options.Read(reader);
        reader.RejectUnknownKeys();
        errors = reader.Errors;
        return options;
    }

    private static SectionReader Reader(Dictionary<string, string?> values) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(ClusterOptions.SectionName));
}
