namespace IoTHub.Broker.Storage;

/// <summary>
/// Keeps everything in memory: fast, and gone with the process. Commits complete at once. Several
/// stores may share one <see cref="StorageModel"/> (a store opened again over the same data).
/// </summary>
public sealed class MemoryBrokerStore(StorageModel? model = null) : IBrokerStore
{
    private readonly StorageModel _model = model ?? new StorageModel();

    /// <summary>Only over a model shared with another store (a broker started again over the same data, in tests).</summary>
    public bool OutlivesBroker { get; } = model is not null;

    public Task<StoredState> LoadAsync(CancellationToken cancellationToken = default)
    {
        lock (_model)
        {
            return Task.FromResult(_model.ToState());
        }
    }

    public Task CommitAsync(ReadOnlyMemory<StorageOperation> batch, CancellationToken cancellationToken = default)
    {
        lock (_model)
        {
            foreach (ref readonly var operation in batch.Span)
            {
                _model.Apply(operation);
            }
        }

        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => default;
}
