using System.Text;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Security.PasswordFile;

/// <summary>
/// Authenticates against a Mosquitto password file (<see cref="PasswordFileContent"/>): a user it holds is allowed with
/// the right password and denied otherwise; any other client is not its own. The file is read again when it changes,
/// without a restart (<see cref="WatchedFile"/>). <see cref="Reloaded"/> then fires (the chain drops its cache). A file that
/// vanishes or cannot be read keeps the users loaded before.
/// </summary>
public sealed partial class PasswordFileAuthenticator : IAuthenticator, IDisposable
{
    public const string MethodName = "password_file";

    private readonly ILogger _logger;
    private readonly WatchedFile _file;
    private PasswordFileContent _content;

    private PasswordFileAuthenticator(string path, byte[] bytes, ILogger logger, TimeProvider time)
    {
        _logger = logger;
        _content = Load(path, bytes);
        _file = new WatchedFile(path, bytes, Reload, reason => LogUnreadable(_logger, Path, reason), time);
    }

    /// <summary>The full path of the file.</summary>
    public string Path => _file.Path;

    public string Method => MethodName;

    /// <summary>Users loaded now.</summary>
    public int UserCount => Volatile.Read(ref _content).UserCount;

    /// <summary>Raised after the file was read again with a new content.</summary>
    public event Action? Reloaded;

    /// <summary>
    /// Reads the file (a missing one throws <see cref="FileNotFoundException"/>) and watches it from then on. Called at
    /// start, where reading synchronously holds up nothing; reloads read asynchronously.
    /// </summary>
    public static PasswordFileAuthenticator Open(string path, ILogger logger, TimeProvider? time = null)
    {
        path = System.IO.Path.GetFullPath(path);
        var bytes = File.ReadAllBytes(path);
        var authenticator = new PasswordFileAuthenticator(path, bytes, logger, time ?? TimeProvider.System);
        LogLoaded(logger, path, authenticator.UserCount);
        return authenticator;
    }

    public ValueTask<AuthenticationAnswer> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        if (request.UserName is not { } userName || Volatile.Read(ref _content).Find(userName) is not { } hash)
        {
            return ValueTask.FromResult<AuthenticationAnswer>(AuthenticationResult.NotMine);
        }

        // A known user without a password is denied, as Mosquitto does; the hash runs inline: a cache miss costs its time once.
        var allowed = request.Password is { } password && hash.Matches(password);
        return ValueTask.FromResult<AuthenticationAnswer>(allowed ? AuthenticationResult.Allow : AuthenticationResult.Deny);
    }

    /// <summary>Reads the file and loads it when its content changed; what the watcher's events start.</summary>
    internal Task CheckAsync() => _file.CheckAsync();

    public void Dispose() => _file.Dispose();

    private void Reload(byte[] bytes)
    {
        var content = Load(Path, bytes);
        Volatile.Write(ref _content, content);
        LogReloaded(_logger, Path, content.UserCount);
        Reloaded?.Invoke();
    }

    private PasswordFileContent Load(string path, byte[] bytes)
    {
        var content = PasswordFileContent.Parse(Encoding.UTF8.GetString(bytes));
        foreach (var (line, problem) in content.Problems)
        {
            LogBadLine(_logger, path, line, problem);
        }

        return content;
    }

    [LoggerMessage(1300, LogLevel.Information, "Password file {Path}: {Users} users")]
    private static partial void LogLoaded(ILogger logger, string path, int users);

    [LoggerMessage(1301, LogLevel.Information, "Password file {Path} changed and was read again: {Users} users")]
    private static partial void LogReloaded(ILogger logger, string path, int users);

    [LoggerMessage(1302, LogLevel.Warning, "Password file {Path} line {Line} is skipped: {Problem}")]
    private static partial void LogBadLine(ILogger logger, string path, int line, string problem);

    [LoggerMessage(1303, LogLevel.Warning, "Password file {Path} cannot be read ({Reason}); the users loaded before stay")]
    private static partial void LogUnreadable(ILogger logger, string path, string reason);
}
