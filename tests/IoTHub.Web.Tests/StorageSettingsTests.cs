using IoTHub.Broker.Storage;
using IoTHub.Web.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests;

public sealed class StorageSettingsTests : IDisposable
{
    private readonly TempDirectory _workingDirectory = new();

    public void Dispose() => _workingDirectory.Dispose();

    [Fact]
    public void StorageKeysAreReadAndBadOnesReported()
    {
        var options = new StorageOptions();
        var good = Reader(new() { ["Storage:Provider"] = "postgres", ["Storage:ConnectionString"] = "Host=db", ["Storage:Durability"] = "relaxed", ["Storage:MigrateOnStart"] = "true" });
        options.Read(good);
        good.RejectUnknownKeys();
        Assert.Empty(good.Errors);
        Assert.Equal(StorageProvider.Postgres, options.Provider);
        Assert.Equal("Host=db", options.ConnectionString);
        Assert.Equal(StorageDurability.Relaxed, options.Durability);
        Assert.True(options.MigrateOnStart);

        var bad = Reader(new() { ["Storage:Provider"] = "oracle", ["Storage:Durability"] = "sometimes", ["Storage:MigrateOnStart"] = "yes" });
        new StorageOptions().Read(bad);
        Assert.Collection(
            bad.Errors,
            e => Assert.StartsWith("Storage:Provider 'oracle' is not one of Memory, File, Sqlite, Postgres", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Storage:Durability 'sometimes'", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Storage:MigrateOnStart 'yes'", e, StringComparison.Ordinal));
    }

    [Fact]
    public async Task PostgresWithoutAConnectionStringStopsTheHostWithOneMessage()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0",
            "--data-dir", Path.Combine(_workingDirectory.Path, "data"), "--Storage:Provider=postgres");

        int exitCode = await host.WaitForExitAsync();

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Storage:ConnectionString is required when Storage:Provider is postgres.", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheDefaultStoreIsAMigratedSqliteFileInTheDataDirectory()
    {
        using var host = new KestrelHost();

        var writer = host.Services.GetRequiredService<StorageWriter>();
        await writer.WriteAsync(StorageOperation.UpsertSession("c", 60, null)).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(StorageDurability.Strict, writer.Durability);
        Assert.True(File.Exists(Path.Combine(host.DataDirectory, "iothub.db")));
        Assert.Equal("c", Assert.Single((await host.Services.GetRequiredService<IBrokerStore>().LoadAsync()).Sessions).ClientId);
    }

    private static SectionReader Reader(Dictionary<string, string?> values) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(StorageOptions.SectionName));
}
