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

    public Task<bool> UpdateAsync(AdminAccount account, CancellationToken cancellationToken) =>
        Task.FromResult(Change(account.UserName, current => account with { CreatedAt = current.CreatedAt, SignOuts = current.SignOuts }));

    public Task<bool> SignOutAsync(string userName, CancellationToken cancellationToken) =>
        Task.FromResult(Change(userName, static current => current with { SignOuts = current.SignOuts + 1 }));

    public Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken) => Task.FromResult(_accounts.TryRemove(userName, out _));

    /// <summary>Replaces the account of that name by what <paramref name="change"/> makes of it, unless another change came first; false when there is none.</summary>
    private bool Change(string userName, Func<AdminAccount, AdminAccount> change)
    {
        while (_accounts.TryGetValue(userName, out var current))
        {
            if (_accounts.TryUpdate(userName, change(current), current))
            {
                return true;
            }
        }

        return false;
    }
}
