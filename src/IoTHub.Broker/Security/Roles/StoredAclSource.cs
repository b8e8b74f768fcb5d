using IoTHub.Broker.Security.Authorization;

namespace IoTHub.Broker.Security.Roles;

/// <summary>
/// The rules, roles and superusers of an <see cref="IAclStore"/> as a source of the <see cref="Authorizer"/>. It holds
/// what it read last: <see cref="LoadAsync"/> reads the store at start and again after each change, and the authorizer
/// compiles the result before the call returns, so a change is in force on every connected client (and the
/// subscriptions it no longer allows are removed) by the time whoever made it is told it is done.
/// </summary>
public sealed class StoredAclSource(IAclStore store) : IAclSource, IDisposable
{
    private readonly SemaphoreSlim _loading = new(1, 1);
    private Loaded _loaded = new([], AclUsers.None);

    public IReadOnlyList<AclRule> Rules => Volatile.Read(ref _loaded).Rules;

    public AclUsers Users => Volatile.Read(ref _loaded).Users;

    public event Action? Changed;

    /// <summary>
    /// Reads the store and puts what it holds in force. Loads run one at a time and each reads after the change that
    /// asked for it, so what is in force is never older than a change already answered. Not cancellable: a change that
    /// is stored must come into force even when its request was abandoned.
    /// </summary>
    public async Task LoadAsync()
    {
        await _loading.WaitAsync().ConfigureAwait(false);
        try
        {
            var (rules, users) = await store.LoadAsync(CancellationToken.None).ConfigureAwait(false);
            Volatile.Write(ref _loaded, new Loaded(rules, users));
            Changed?.Invoke();
        }
        finally
        {
            _loading.Release();
        }
    }

    public void Dispose() => _loading.Dispose();

    /// <summary>One read of the store, swapped whole so that rules and users always come from the same read.</summary>
    private sealed record Loaded(IReadOnlyList<AclRule> Rules, AclUsers Users);
}
