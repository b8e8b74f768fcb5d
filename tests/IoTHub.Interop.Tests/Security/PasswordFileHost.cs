using System.Diagnostics;

namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host with <c>Security:PasswordFile</c> naming a file written by the real mosquitto_passwd (Debian mosquitto):
/// users alice (<see cref="AlicePassword"/>) and bob (<see cref="BobPassword"/>, in the older $6$ format).
/// </summary>
public class PasswordFileHost : IDisposable
{
    public const string AlicePassword = "alice's secret";
    public const string BobPassword = "bob-secret";

    private static readonly TimeSpan PasswdTimeout = TimeSpan.FromSeconds(20);
    private readonly string _folder;

    public PasswordFileHost()
        : this(allowAnonymous: null)
    {
    }

    /// <param name="allowAnonymous">Security:AllowAnonymous, when set.</param>
    /// <param name="settings">More settings. Bans are off unless these turn them on: these hosts' tests count refusals, many from one address.</param>
    protected PasswordFileHost(bool? allowAnonymous, IReadOnlyDictionary<string, string>? settings = null)
    {
        _folder = Directory.CreateTempSubdirectory("iothub-interop-passwords-").FullName;
        PasswordFile = Path.Combine(_folder, "passwords");
        RunPasswd("-c", "-b", PasswordFile, "alice", AlicePassword);
        RunPasswd("-H", "sha512", "-b", PasswordFile, "bob", BobPassword);
        Dictionary<string, string> all = new() { ["Security:PasswordFile"] = PasswordFile, ["Security:Bans:Enabled"] = "false" };
        if (allowAnonymous is { } allow)
        {
            all["Security:AllowAnonymous"] = allow ? "true" : "false";
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }

        Host = new InteropHost(all);
    }

    public InteropHost Host { get; }

    public string PasswordFile { get; }

    /// <summary>Runs mosquitto_passwd with the arguments and waits for it (a fixture cannot await).</summary>
    public static void RunPasswd(params string[] arguments)
    {
        using var passwd = Process.Start("/usr/bin/mosquitto_passwd", arguments);
        Assert.True(passwd.WaitForExit(PasswdTimeout), "mosquitto_passwd did not finish");
        Assert.Equal(0, passwd.ExitCode);
    }

    public void Dispose()
    {
        Host.Dispose();
        Directory.Delete(_folder, recursive: true);
        GC.SuppressFinalize(this);
    }
}

/// <summary>The same, with <c>Security:AllowAnonymous=true</c>.</summary>
public sealed class PasswordFileAnonymousHost() : PasswordFileHost(allowAnonymous: true);
