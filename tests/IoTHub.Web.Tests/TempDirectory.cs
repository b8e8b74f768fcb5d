namespace IoTHub.Web.Tests;

/// <summary>A fresh folder under the system temp folder, removed on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("iothub-web-tests-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
