using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Security.PasswordFile;

/// <summary>
/// Authenticates against a Mosquitto password file (<see cref="PasswordFileContent"/>): a user it holds is allowed with
/// the right password and denied otherwise; any other client is not its own. The file is read again when it changes,
/// without a restart: a watcher on its folder (editors and <c>mosquitto_passwd</c> replace the file, which a watcher
/// on the file alone would lose) starts a check shortly after the last event, and the check reloads only when the
/// content differs from what was loaded. <see cref="Reloaded"/> then fires (the chain drops its cache). A file that
/// vanishes or cannot be read keeps the users loaded before.
/// </summary>
public sealed partial class PasswordFileAuthenticator : IAuthenticator, IDisposable
{
    public const string MethodName = "password_file";

    /// <summary>Events of one write come in bursts: the check waits this long after the last one.</summary>
    private static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(100);

    private readonly ILogger _logger;
    private readonly FileSystemWatcher _watcher;
    private readonly ITimer _settle;
    private readonly SemaphoreSlim _checking = new(1, 1);
    private PasswordFileContent _content;
    private byte[] _contentHash;

    private PasswordFileAuthenticator(string path, byte[] bytes, ILogger logger, TimeProvider time)
    {
        Path = path;
        _logger = logger;
        (_content, _contentHash) = Load(bytes);
        _settle = time.CreateTimer(static state => _ = ((PasswordFileAuthenticator)state!).CheckAsync(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _watcher = new FileSystemWatcher(System.IO.Path.GetDirectoryName(path)!)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        _watcher.Changed += OnFileEvent;
        _watcher.Created += OnFileEvent;
        _watcher.Renamed += OnFileEvent;
        _watcher.Deleted += OnFileEvent;
        _watcher.Error += (_, _) => _settle.Change(SettleTime, Timeout.InfiniteTimeSpan); // events were lost: check anyway
        _watcher.EnableRaisingEvents = true;
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

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

    public ValueTask<AuthenticationResult> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        if (request.UserName is not { } userName || Volatile.Read(ref _content).Find(userName) is not { } hash)
        {
            return ValueTask.FromResult(AuthenticationResult.NotMine);
        }

        // A known user without a password is denied, as Mosquitto does; the hash runs inline: a cache miss costs its time once.
        var allowed = request.Password is { } password && hash.Matches(password);
        return ValueTask.FromResult(allowed ? AuthenticationResult.Allow : AuthenticationResult.Deny);
    }

    /// <summary>Reads the file and loads it when its content changed; what the watcher's events start.</summary>
    internal async Task CheckAsync()
    {
        await _checking.WaitAsync().ConfigureAwait(false);
        try
        {
            byte[] bytes;
            try
            {
                bytes = await File.ReadAllBytesAsync(Path).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogUnreadable(_logger, Path, e.Message);
                return;
            }

            if (SHA256.HashData(bytes).AsSpan().SequenceEqual(_contentHash))
            {
                return;
            }

            var (content, contentHash) = Load(bytes);
            Volatile.Write(ref _content, content);
            _contentHash = contentHash;
            LogReloaded(_logger, Path, content.UserCount);
            Reloaded?.Invoke();
        }
        finally
        {
            _checking.Release();
        }
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _settle.Dispose();
    }

    private (PasswordFileContent Content, byte[] Hash) Load(byte[] bytes)
    {
        var content = PasswordFileContent.Parse(Encoding.UTF8.GetString(bytes));
        foreach (var (line, problem) in content.Problems)
        {
            LogBadLine(_logger, Path, line, problem);
        }

        return (content, SHA256.HashData(bytes));
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        if (string.Equals(e.FullPath, Path, StringComparison.Ordinal) || (e is RenamedEventArgs renamed && string.Equals(renamed.OldFullPath, Path, StringComparison.Ordinal)))
        {
            _settle.Change(SettleTime, Timeout.InfiniteTimeSpan);
        }
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
