using System.Collections.Concurrent;
using IoTHub.Data;
using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Web.Auth;

/// <summary>An admin account as stored: the password only as its hash.</summary>
internal sealed record AdminAccount(string UserName, string PasswordHash, string Role, DateTimeOffset CreatedAt);

/// <summary>Where admin accounts live: the database for sqlite/postgres, memory otherwise.</summary>
internal interface IAdminAccountStore
{
    Task<AdminAccount?> FindAsync(string userName, CancellationToken cancellationToken);

    Task<IReadOnlyList<AdminAccount>> ListAsync(CancellationToken cancellationToken);

    /// <summary>False when an account of that name exists.</summary>
    Task<bool> AddAsync(AdminAccount account, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken);
}

/// <summary>For the memory and file providers: accounts last as long as the process (the admin is re-created at start).</summary>
internal sealed class MemoryAdminAccountStore : IAdminAccountStore
{
    private readonly ConcurrentDictionary<string, AdminAccount> _accounts = new(StringComparer.Ordinal);

    public Task<AdminAccount?> FindAsync(string userName, CancellationToken cancellationToken) =>
        Task.FromResult(_accounts.GetValueOrDefault(userName));

    public Task<IReadOnlyList<AdminAccount>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<AdminAccount>>([.. _accounts.Values.OrderBy(static a => a.UserName, StringComparer.Ordinal)]);

    public Task<bool> AddAsync(AdminAccount account, CancellationToken cancellationToken) => Task.FromResult(_accounts.TryAdd(account.UserName, account));

    public Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken) => Task.FromResult(_accounts.TryRemove(userName, out _));
}

/// <summary>For sqlite and postgres: the admin_accounts table, through a short-lived context per call.</summary>
internal sealed class RelationalAdminAccountStore(DbContextOptions<BrokerDbContext> options) : IAdminAccountStore
{
    public async Task<AdminAccount?> FindAsync(string userName, CancellationToken cancellationToken)
    {
        await using var context = new BrokerDbContext(options);
        var entity = await context.AdminAccounts.AsNoTracking().SingleOrDefaultAsync(a => a.UserName == userName, cancellationToken);
        return entity is null ? null : ToAccount(entity);
    }

    public async Task<IReadOnlyList<AdminAccount>> ListAsync(CancellationToken cancellationToken)
    {
        await using var context = new BrokerDbContext(options);
        var entities = await context.AdminAccounts.AsNoTracking().OrderBy(a => a.UserName).ToListAsync(cancellationToken);
        return [.. entities.Select(ToAccount)];
    }

    public async Task<bool> AddAsync(AdminAccount account, CancellationToken cancellationToken)
    {
        await using var context = new BrokerDbContext(options);
        if (await context.AdminAccounts.AnyAsync(a => a.UserName == account.UserName, cancellationToken))
        {
            return false;
        }

        context.AdminAccounts.Add(new AdminAccountEntity
        {
            UserName = account.UserName,
            PasswordHash = account.PasswordHash,
            Role = account.Role,
            CreatedAt = account.CreatedAt.ToUnixTimeMilliseconds(),
        });
        try
        {
            await context.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException)
        {
            // Added by someone else between the check and the insert (the unique index refused it).
            return false;
        }
    }

    public async Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken)
    {
        await using var context = new BrokerDbContext(options);
        return await context.AdminAccounts.Where(a => a.UserName == userName).ExecuteDeleteAsync(cancellationToken) > 0;
    }

    private static AdminAccount ToAccount(AdminAccountEntity e) =>
        new(e.UserName, e.PasswordHash, e.Role, DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt));
}
