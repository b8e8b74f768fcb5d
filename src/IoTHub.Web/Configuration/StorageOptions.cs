using IoTHub.Broker.Storage;

namespace IoTHub.Web.Configuration;

/// <summary>Where the broker stores what must survive a restart (docs/storage.md).</summary>
internal enum StorageProvider
{
    Memory,
    File,
    Sqlite,
    Postgres,
}

/// <summary>Section "Storage".</summary>
internal sealed class StorageOptions
{
    public const string SectionName = "Storage";

    /// <summary>Where the broker keeps its files; a relative path is taken from the content root.</summary>
    public string DataDirectory { get; set; } = "data";

    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>The Npgsql connection string; required for <see cref="StorageProvider.Postgres"/>.</summary>
    public string ConnectionString { get; set; } = string.Empty;

    public StorageDurability Durability { get; set; } = StorageDurability.Strict;

    /// <summary>PostgreSQL: apply missing migrations at start. SQLite is always migrated at start.</summary>
    public bool MigrateOnStart { get; set; }

    public void Read(SectionReader reader)
    {
        DataDirectory = reader.NonEmptyText(nameof(DataDirectory), DataDirectory);
        Provider = reader.Choice(nameof(Provider), Provider);
        ConnectionString = reader.NonEmptyText(nameof(ConnectionString), ConnectionString);
        Durability = reader.Choice(nameof(Durability), Durability);
        MigrateOnStart = reader.Flag(nameof(MigrateOnStart), MigrateOnStart);
    }
}
