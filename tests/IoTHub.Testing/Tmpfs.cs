using System.Diagnostics;
using Xunit;

namespace IoTHub.Testing;

/// <summary>
/// A tmpfs mounted on a new temp folder: a real disk of a chosen size that fills up, and that can be
/// grown while mounted. Mounting needs root (CI runs the suite as root). Unmounted and deleted on dispose,
/// also when the test failed.
/// </summary>
public sealed class Tmpfs : IDisposable
{
    /// <summary>Why a test that needs a tmpfs is skipped where it cannot mount one.</summary>
    public const string CannotMount = "mounting a tmpfs needs root (the suite runs as root in CI)";

    private Tmpfs(string path) => Path = path;

    public static bool CanMount => Environment.IsPrivilegedProcess;

    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="size"/> (mount's syntax: <c>256k</c>, <c>64m</c>) on a new temp folder.</summary>
    public static Tmpfs Mount(string size)
    {
        var path = Directory.CreateTempSubdirectory("iothub-tmpfs-").FullName;
        Run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path);
        return new Tmpfs(path);
    }

    /// <summary>Gives the mounted disk a new size, keeping its files (what an operator does to a full disk).</summary>
    public void Resize(string size) => Run("mount", "-o", "remount,size=" + size, Path);

    public void Dispose()
    {
        Run("umount", Path);
        Directory.Delete(Path, recursive: true);
    }

    private static void Run(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), $"{command} did not finish");
        Assert.True(process.ExitCode == 0, $"{command} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error.Result}");
    }
}

/// <summary>A theory that needs <see cref="Tmpfs"/>: skipped, with the reason, where mounting is impossible.</summary>
public sealed class TmpfsTheoryAttribute : TheoryAttribute
{
    public TmpfsTheoryAttribute()
    {
        if (!Tmpfs.CanMount)
        {
            Skip = Tmpfs.CannotMount;
        }
    }
}

/// <summary>A fact that needs <see cref="Tmpfs"/>: skipped, with the reason, where mounting is impossible.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (!Tmpfs.CanMount)
        {
            Skip = Tmpfs.CannotMount;
        }
    }
}
