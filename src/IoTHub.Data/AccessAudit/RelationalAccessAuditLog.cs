using IoTHub.Broker.Security.Audit;
using IoTHub.Data.Admin;
using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.AccessAudit;

/// <summary>The access_audit_log table; each batch is one INSERT transaction, and the audit's retention prunes it.</summary>
internal sealed class RelationalAccessAuditLog(IDbContextFactory<BrokerDbContext> contexts) : IAccessAuditLog
{
    /// <summary>
    /// Rows one DELETE removes: each is a short transaction of its own, so a big prune (the first after an upgrade, or after the
    /// limits were lowered) lets the audit's inserts and SQLite's other writers in between its batches.
    /// </summary>
    internal const int PruneBatch = 5_000;

    public Task WriteAsync(IReadOnlyList<AccessAuditEntry> entries, CancellationToken cancellationToken) =>
        contexts.RunAsync(context =>
        {
            foreach (var entry in entries)
            {
                context.AccessAuditLog.Add(new AccessAuditEntryEntity
                {
                    At = entry.At.ToUnixTimeMilliseconds(),
                    Result = entry.Result.Name(),
                    Broker = entry.Broker,
                    Listener = entry.Listener,
                    Address = entry.Address,
                    UserName = entry.UserName,
                    ClientId = entry.ClientId,
                    Action = entry.Action?.Name(),
                    Topic = entry.Topic,
                    Rule = entry.Rule,
                    Dropped = entry.Dropped,
                });
            }

            return context.SaveChangesAsync(cancellationToken);
        });

    public Task<(IReadOnlyList<AccessAuditEntry> Entries, int Total)> ReadAsync(AccessAuditQuery query, int skip, int take, CancellationToken cancellationToken) =>
        contexts.RunAsync<(IReadOnlyList<AccessAuditEntry>, int)>(async context =>
        {
            var result = query.Result?.Name();
            var from = query.From?.ToUnixTimeMilliseconds();
            var to = query.To?.ToUnixTimeMilliseconds();
            var rows = context.AccessAuditLog.AsNoTracking()
                .Where(e => (query.ClientId == null || e.ClientId == query.ClientId) && (query.UserName == null || e.UserName == query.UserName)
                    && (query.Topic == null || e.Topic!.Contains(query.Topic)) && (result == null || e.Result == result)
                    && (from == null || e.At >= from) && (to == null || e.At < to));
            var total = await rows.CountAsync(cancellationToken).ConfigureAwait(false);
            var page = await rows.OrderByDescending(static e => e.Id).Skip(skip).Take(take).ToListAsync(cancellationToken).ConfigureAwait(false);
            return ([.. page.Select(Read)], total);
        });

    public Task<long> PruneAsync(DateTimeOffset olderThan, long keep, CancellationToken cancellationToken) =>
        contexts.RunAsync(async context =>
        {
            var rows = context.AccessAuditLog;
            long deleted = 0;

            // All but the newest `keep`: ids only grow, so the bound is one look at the primary key. A gap in the ids (PostgreSQL's
            // sequence skips those of a failed insert) keeps that many fewer.
            if (await rows.MaxAsync(static e => (long?)e.Id, cancellationToken).ConfigureAwait(false) - keep is > 0 and var bound)
            {
                deleted += await DeleteInBatchesAsync(rows.Where(e => e.Id <= bound).OrderBy(static e => e.Id), cancellationToken).ConfigureAwait(false);
            }

            // The old ones, oldest first along the index on at.
            var cutoff = olderThan.ToUnixTimeMilliseconds();
            deleted += await DeleteInBatchesAsync(rows.Where(e => e.At < cutoff).OrderBy(static e => e.At), cancellationToken).ConfigureAwait(false);
            return deleted;
        });

    private static async Task<long> DeleteInBatchesAsync(IOrderedQueryable<AccessAuditEntryEntity> rows, CancellationToken cancellationToken)
    {
        long deleted = 0;
        int batch;
        do
        {
            batch = await rows.Take(PruneBatch).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            deleted += batch;
        }
        while (batch == PruneBatch);

        return deleted;
    }

    private static AccessAuditEntry Read(AccessAuditEntryEntity e) =>
        new(DateTimeOffset.FromUnixTimeMilliseconds(e.At), AccessAuditNames.ParseResult(e.Result) ?? AccessAuditResult.Deny, e.Broker, e.Listener, e.Address,
            e.UserName, e.ClientId, AccessAuditNames.ParseAction(e.Action), e.Topic, e.Rule, e.Dropped);
}
