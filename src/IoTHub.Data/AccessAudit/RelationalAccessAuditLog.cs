using IoTHub.Broker.Security.Audit;
using IoTHub.Data.Admin;
using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.AccessAudit;

/// <summary>The access_audit_log table, kept without limit; each batch is one INSERT transaction.</summary>
internal sealed class RelationalAccessAuditLog(IDbContextFactory<BrokerDbContext> contexts) : IAccessAuditLog
{
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

    private static AccessAuditEntry Read(AccessAuditEntryEntity e) =>
        new(DateTimeOffset.FromUnixTimeMilliseconds(e.At), AccessAuditNames.ParseResult(e.Result) ?? AccessAuditResult.Deny, e.Broker, e.Listener, e.Address,
            e.UserName, e.ClientId, AccessAuditNames.ParseAction(e.Action), e.Topic, e.Rule, e.Dropped);
}
