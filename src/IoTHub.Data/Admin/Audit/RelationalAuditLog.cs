using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Admin.Audit;

/// <summary>The audit_log table, kept without limit.</summary>
internal sealed class RelationalAuditLog(IDbContextFactory<BrokerDbContext> contexts) : IAuditLog
{
    public Task WriteAsync(AuditRecord record, CancellationToken cancellationToken) =>
        contexts.RunAsync(context =>
        {
            context.AuditLog.Add(new AuditEntryEntity
            {
                At = record.At.ToUnixTimeMilliseconds(),
                Actor = record.Actor,
                Action = record.Action,
                Status = record.Status,
                RemoteAddress = record.RemoteAddress,
                Source = record.Source,
            });
            return context.SaveChangesAsync(cancellationToken);
        });

    public Task<(IReadOnlyList<AuditRecord> Records, int Total)> ReadAsync(AuditQuery search, int skip, int take, CancellationToken cancellationToken) =>
        contexts.RunAsync<(IReadOnlyList<AuditRecord>, int)>(async context =>
        {
            var (actor, action, from, to) = (search.Actor, search.Action, search.From?.ToUnixTimeMilliseconds(), search.To?.ToUnixTimeMilliseconds());
            var query = context.AuditLog.AsNoTracking().Where(e => (actor == null || e.Actor == actor) && (action == null || e.Action.Contains(action))
                && (from == null || e.At >= from) && (to == null || e.At < to));
            var total = await query.CountAsync(cancellationToken).ConfigureAwait(false);
            var rows = await query.OrderByDescending(static e => e.Id).Skip(skip).Take(take).ToListAsync(cancellationToken).ConfigureAwait(false);
            return ([.. rows.Select(static e => new AuditRecord(DateTimeOffset.FromUnixTimeMilliseconds(e.At), e.Actor, e.Action, e.Status, e.RemoteAddress, e.Source))], total);
        });
}
