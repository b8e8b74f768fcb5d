using System.Security.Cryptography;

namespace IoTHub.Broker.Security;

/// <summary>
/// A file read again when it changes, without a restart (password files, acl files): a watcher on its folder (editors
/// and <c>mosquitto_passwd</c> replace the file, which a watcher on the file alone would lose) starts a check shortly
/// after the last event, and the check hands the new bytes to <c>load</c> only when they differ from what was loaded.
/// A file that vanishes or cannot be read is reported to <c>unreadable</c> and keeps what was loaded before.
/// </summary>
internal sealed class WatchedFile : IDisposable
{
    /// <summary>Events of one write come in bursts: the check waits this long after the last one.</summary>
    private static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(100);

    private readonly Action<byte[]> _load;
    private readonly Action<string> _unreadable;
    private readonly FileSystemWatcher _watcher;
    private readonly ITimer _settle;
    private readonly SemaphoreSlim _checking = new(1, 1);
    private byte[] _contentHash;

    /// <param name="loaded">The content loaded at start.</param>
    /// <param name="load">Takes a changed content; called by one check at a time.</param>
    /// <param name="unreadable">Told why the file could not be read.</param>
    public WatchedFile(string path, byte[] loaded, Action<byte[]> load, Action<string> unreadable, TimeProvider time)
    {
        Path = path;
        _load = load;
        _unreadable = unreadable;
        _contentHash = SHA256.HashData(loaded);
        _settle = time.CreateTimer(static state => _ = ((WatchedFile)state!).CheckAsync(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
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

    /// <summary>Reads the file and loads it when its content changed; what the watcher's events start.</summary>
    public async Task CheckAsync()
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
                _unreadable(e.Message);
                return;
            }

            var hash = SHA256.HashData(bytes);
            if (hash.AsSpan().SequenceEqual(_contentHash))
            {
                return;
            }

            _contentHash = hash;
            _load(bytes);
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

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        if (string.Equals(e.FullPath, Path, StringComparison.Ordinal) || (e is RenamedEventArgs renamed && string.Equals(renamed.OldFullPath, Path, StringComparison.Ordinal)))
        {
            _settle.Change(SettleTime, Timeout.InfiniteTimeSpan);
        }
    }
}
