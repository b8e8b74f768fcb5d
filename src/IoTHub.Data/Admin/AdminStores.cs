using IoTHub.Data.Admin.Accounts;
using IoTHub.Data.Admin.ApiKeys;
using IoTHub.Data.Admin.Audit;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Admin;

/// <summary>
/// The admin API's own data: its accounts, API keys and audit log. All three live in the broker's
/// database when it has one (SQLite, PostgreSQL) and in memory otherwise (the memory and file stores);
/// that is decided here, once for the three.
/// </summary>
public sealed class AdminStores
{
    private AdminStores()
    {
    }

    public required IAdminAccountStore Accounts { get; init; }

    public required IAdminApiKeyStore ApiKeys { get; init; }

    public required IAuditLog AuditLog { get; init; }

    /// <summary>True when they are kept in the database; false when in memory, for as long as the process runs.</summary>
    public bool InDatabase { get; private init; }

    /// <param name="database">Contexts on the broker's database; null for none (the stores are then in memory).</param>
    public static AdminStores Create(IDbContextFactory<BrokerDbContext>? database) =>
        database is null
            ? new() { Accounts = new MemoryAdminAccountStore(), ApiKeys = new MemoryAdminApiKeyStore(), AuditLog = new MemoryAuditLog() }
            : new()
            {
                Accounts = new RelationalAdminAccountStore(database),
                ApiKeys = new RelationalAdminApiKeyStore(database),
                AuditLog = new RelationalAuditLog(database),
                InDatabase = true,
            };
}
