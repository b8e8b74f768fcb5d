using System.Collections.Concurrent;

namespace IoTHub.Data.Admin.Accounts;

/// <summary>Accounts that last as long as the process (the first admin is created again at start).</summary>
internal sealed class MemoryAdminAccountStore : IAdminAccountStore
{
    private readonly ConcurrentDictionary<string, AdminAccount> _accounts = new(StringComparer.Ordinal);

    public Task<AdminAccount?> FindAsync(string userName, CancellationToken cancellationToken) =>
        Task.FromResult(_accounts.GetValueOrDefault(userName));

    public Task<IReadOnlyList<AdminAccount>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<AdminAccount>>([.. _accounts.Values.OrderBy(static a => a.UserName, StringComparer.Ordinal)]);

    public Task<bool> AddAsync(AdminAccount account, CancellationToken cancellationToken) => Task.FromResult(_accounts.TryAdd(account.UserName, account));

    public Task<bool> UpdateAsync(AdminAccount account, CancellationToken cancellationToken)
    {
        while (_accounts.TryGetValue(account.UserName, out var current))
        {
            if (_accounts.TryUpdate(account.UserName, account with { CreatedAt = current.CreatedAt }, current))
            {
                return Task.FromResult(true);
            }
        }

        return Task.FromResult(false);
    }

    public Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken) => Task.FromResult(_accounts.TryRemove(userName, out _));
}
