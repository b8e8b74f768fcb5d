using IoTHub.Testing;

namespace IoTHub.Web.Tests;

/// <summary>A host on a data folder (or database) that outlives it, so that a second host finds what the first stored.</summary>
internal sealed class StorageHost(IReadOnlyDictionary<string, string> settings) : AdminApiHost(settings)
{
    /// <summary>Settings that store with <paramref name="provider"/> in <paramref name="dataDirectory"/>, or for postgres in a new database of <paramref name="postgres"/>.</summary>
    public static async Task<Dictionary<string, string>> SettingsAsync(string provider, string dataDirectory, PostgresServer postgres)
    {
        var settings = new Dictionary<string, string>
        {
            ["Storage:Provider"] = provider,
            ["Storage:DataDirectory"] = dataDirectory,
        };
        if (provider == "postgres")
        {
            settings["Storage:ConnectionString"] = await postgres.CreateDatabaseAsync();
            settings["Storage:MigrateOnStart"] = "true";
        }

        return settings;
    }
}
