namespace IoTHub.Web.Configuration;

/// <summary>Section "Storage".</summary>
internal sealed class StorageOptions
{
    public const string SectionName = "Storage";

    /// <summary>Where the broker keeps its files; a relative path is taken from the content root.</summary>
    public string DataDirectory { get; set; } = "data";

    public void Read(SectionReader reader) => DataDirectory = reader.NonEmptyText(nameof(DataDirectory), DataDirectory);
}
