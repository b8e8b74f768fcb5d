using IoTHub.Broker.Security.Audit;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.AccessAudit;

/// <summary>
/// Where the access audit is kept, decided as for the admin stores (<see cref="Admin.AdminStores"/>): the access_audit_log
/// table of the broker's database when it has one (SQLite, PostgreSQL), memory otherwise (the memory and file providers).
/// </summary>
public static class AccessAuditLogs
{
    /// <param name="database">Contexts on the broker's database; null for none.</param>
    public static IAccessAuditLog Create(IDbContextFactory<BrokerDbContext>? database) =>
        database is null ? new MemoryAccessAuditLog() : new RelationalAccessAuditLog(database);
}
