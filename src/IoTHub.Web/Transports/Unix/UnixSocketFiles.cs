using IoTHub.Web.Configuration;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Transports.Unix;

/// <summary>
/// The socket files of the unix:// listeners over the host's life: before the web server binds, a file left by a killed
/// process is removed (one a live process listens on stops the start); once bound, each file gets its mode and owners;
/// after the server stopped, each file still the one bound is removed.
/// </summary>
internal sealed partial class UnixSocketFiles(IOptions<MqttOptions> options, ILogger<UnixSocketFiles> logger) : IHostedLifecycleService
{
    private readonly List<(string Path, ulong Inode)> _bound = [];

    private IEnumerable<UnixSocketSettings> Sockets =>
        options.Value.AllBrokers.SelectMany(static broker => broker.Listeners).Select(static listener => listener.Unix).OfType<UnixSocketSettings>();

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        foreach (var socket in Sockets)
        {
            if (UnixNative.Stat(socket.Path) is not { IsSocket: true })
            {
                continue;
            }

            if (socket.IsLive())
            {
                throw new IOException($"Unix socket '{socket.Path}' is the socket of a process that listens on it: stop that process or choose another path.");
            }

            File.Delete(socket.Path);
            LogStaleRemoved(logger, socket.Path);
        }

        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        foreach (var socket in Sockets)
        {
            if (!OperatingSystem.IsWindows())
            {
                // Windows has no file modes: its Unix sockets follow the folder's access rules.
                File.SetUnixFileMode(socket.Path, socket.Mode);
            }

            if ((socket.Owner, socket.Group) != (UnixSocketSettings.Unchanged, UnixSocketSettings.Unchanged)
                && UnixNative.ChangeOwner(socket.Path, socket.Owner, socket.Group) is { } problem)
            {
                throw new IOException($"Unix socket '{socket.Path}' cannot be given to user {socket.Owner}, group {socket.Group}: {problem}");
            }

            if (UnixNative.Stat(socket.Path) is { } bound)
            {
                _bound.Add((socket.Path, bound.Inode));
            }
        }

        return Task.CompletedTask;
    }

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        foreach (var (path, inode) in _bound)
        {
            // Another host may have taken the path since (after this one was declared stale): its file stays.
            if (UnixNative.Stat(path) is { IsSocket: true } now && now.Inode == inode)
            {
                File.Delete(path);
            }
        }

        _bound.Clear();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1400, Level = LogLevel.Warning, Message = "Unix socket {Path} was left by a process that no longer listens on it: removed")]
    private static partial void LogStaleRemoved(ILogger logger, string path);
}
