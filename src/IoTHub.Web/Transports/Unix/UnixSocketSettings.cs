using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using IoTHub.Web.Configuration;

namespace IoTHub.Web.Transports.Unix;

/// <summary>
/// A unix:///path listener: its socket file, the file's mode (who may connect: a client needs write permission) and its
/// owner and group, as user and group ids (names are looked up at start).
/// </summary>
internal sealed record UnixSocketSettings(string Path, UnixFileMode Mode, int Owner = UnixSocketSettings.Unchanged, int Group = UnixSocketSettings.Unchanged)
{
    /// <summary>The owner or group a chown leaves as it is.</summary>
    public const int Unchanged = -1;

    /// <summary>Read and write for the owner and the group: the default, so that only they can connect.</summary>
    public const UnixFileMode DefaultMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>sun_path holds 108 bytes on Linux, its terminating zero included.</summary>
    private const int MaximumPathBytes = 107;

    /// <summary><c>unix:///run/iothub/mqtt.sock</c>: an absolute path, nothing else.</summary>
    public static bool TryParseUrl(string name, Uri uri, [NotNullWhen(true)] out MqttListenerUrl? listener)
    {
        listener = null;
        if (uri.Host.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0 || uri.LocalPath.Length < 2
            || uri.LocalPath.EndsWith('/'))
        {
            return false;
        }

        listener = new MqttListenerUrl(name, IPAddress.None, 0)
        {
            Scheme = ListenerScheme.Unix,
            Unix = new UnixSocketSettings(uri.LocalPath, DefaultMode),
        };
        return true;
    }

    /// <summary>
    /// Reads SocketMode, SocketOwner and SocketGroup, and checks the path: its folder exists, it fits in a socket address,
    /// and nothing but a socket no process listens on (left by a process that was killed) is in the way.
    /// </summary>
    public UnixSocketSettings Read(SectionReader reader)
    {
        var mode = reader.Read("SocketMode", Mode, TryParseMode, "is not an octal file mode such as 660 or 0666.");
        var owner = reader.Read("SocketOwner", Owner, UnixNative.TryFindUser, "is not a user name or id of this system.");
        var group = reader.Read("SocketGroup", Group, UnixNative.TryFindGroup, "is not a group name or id of this system.");
        if (Problem() is { } problem)
        {
            reader.Fail("Url", $"'{Path}' {problem}");
        }

        return this with { Mode = mode, Owner = owner, Group = group };
    }

    /// <summary>What stops a socket from being made at the path; null when nothing does.</summary>
    public string? Problem()
    {
        if (System.Text.Encoding.UTF8.GetByteCount(Path) > MaximumPathBytes)
        {
            return $"is longer than the {MaximumPathBytes} bytes a Unix socket path may have.";
        }

        if (System.IO.Path.GetDirectoryName(Path) is { } folder && !Directory.Exists(folder))
        {
            return $"cannot be made: the folder '{folder}' does not exist.";
        }

        return UnixNative.Stat(Path) switch
        {
            null => null,
            { IsSocket: false } => "exists and is not a socket: move it away or choose another path.",
            _ when IsLive() => "is the socket of a process that listens on it: stop that process or choose another path.",
            _ => null,
        };
    }

    /// <summary>Whether a process accepts connections on the socket file; a file left by a killed process refuses them.</summary>
    public bool IsLive()
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(Path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static bool TryParseMode(string raw, out UnixFileMode mode)
    {
        var octal = raw.Length is >= 3 and <= 4 && raw.All(static c => c is >= '0' and <= '7');
        mode = octal ? (UnixFileMode)Convert.ToInt32(raw, 8) : default;
        return octal;
    }
}
