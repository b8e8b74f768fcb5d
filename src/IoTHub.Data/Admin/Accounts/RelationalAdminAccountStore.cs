using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Admin.Accounts;

/// <summary>The admin_accounts table.</summary>
internal sealed class RelationalAdminAccountStore(IDbContextFactory<BrokerDbContext> contexts) : IAdminAccountStore
{
    public Task<AdminAccount?> FindAsync(string userName, CancellationToken cancellationToken) =>
        contexts.FindAsync(static c => c.AdminAccounts, a => a.UserName == userName, ToAccount, cancellationToken);

    public Task<IReadOnlyList<AdminAccount>> ListAsync(CancellationToken cancellationToken) =>
        contexts.ListAsync(static c => c.AdminAccounts, static a => a.UserName, ToAccount, cancellationToken);

    public Task<bool> AddAsync(AdminAccount account, CancellationToken cancellationToken) =>
        contexts.AddUniqueAsync(static c => c.AdminAccounts, a => a.UserName == account.UserName, new AdminAccountEntity
        {
            UserName = account.UserName,
            PasswordHash = account.PasswordHash,
            Role = account.Role,
            CreatedAt = account.CreatedAt.ToUnixTimeMilliseconds(),
        }, cancellationToken);

    public Task<bool> UpdateAsync(AdminAccount account, CancellationToken cancellationToken) =>
        contexts.RunAsync(async context => await context.AdminAccounts.Where(a => a.UserName == account.UserName).ExecuteUpdateAsync(set => set
            .SetProperty(a => a.PasswordHash, account.PasswordHash)
            .SetProperty(a => a.Role, account.Role), cancellationToken).ConfigureAwait(false) > 0);

    public Task<bool> SignOutAsync(string userName, CancellationToken cancellationToken) =>
        contexts.RunAsync(async context => await context.AdminAccounts.Where(a => a.UserName == userName).ExecuteUpdateAsync(set => set
            .SetProperty(a => a.SignOuts, a => a.SignOuts + 1), cancellationToken).ConfigureAwait(false) > 0);

    public Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken) =>
        contexts.DeleteAsync(static c => c.AdminAccounts, a => a.UserName == userName, cancellationToken);

    private static AdminAccount ToAccount(AdminAccountEntity e) =>
        new(e.UserName, e.PasswordHash, e.Role, DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt), e.SignOuts);
}
