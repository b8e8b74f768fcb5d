using IoTHub.Broker.Storage;

namespace IoTHub.Testing;

/// <summary>
/// A real store whose next commit can be held at its start or failed, so a test can see what a writer does
/// while a transaction is in progress. Everything else goes straight to the store underneath.
/// </summary>
public sealed class PausingStore(IBrokerStore inner) : IBrokerStore
{
    private TaskCompletionSource? _release;
    private TaskCompletionSource? _entered;
    private TaskCompletionSource? _held;
    private Exception? _failure;

    /// <summary>Holds the next commit; the returned task completes when that commit has started.</summary>
    public Task PauseNextCommit()
    {
        _entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _release, _held);
        return _entered.Task;
    }

    public void Release() => _held?.TrySetResult();

    /// <summary>Fails the next commit with <paramref name="failure"/> before anything of it is stored (a full disk, a lost server).</summary>
    public void FailNextCommit(Exception failure) => Volatile.Write(ref _failure, failure);

    public Task<StoredState> LoadAsync(CancellationToken cancellationToken = default) => inner.LoadAsync(cancellationToken);

    public async Task CommitAsync(ReadOnlyMemory<StorageOperation> batch, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _release, null) is { } release)
        {
            _entered!.TrySetResult();
            await release.Task;
        }

        if (Interlocked.Exchange(ref _failure, null) is { } failure)
        {
            throw failure;
        }

        await inner.CommitAsync(batch, cancellationToken);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
