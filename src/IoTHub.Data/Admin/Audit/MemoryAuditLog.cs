using System.Collections.Concurrent;

namespace IoTHub.Data.Admin.Audit;

/// <summary>The newest <see cref="Capacity"/> records, for as long as the process runs.</summary>
internal sealed class MemoryAuditLog : IAuditLog
{
    public const int Capacity = 10_000;

    private readonly ConcurrentQueue<AuditRecord> _records = new();

    public Task WriteAsync(AuditRecord record, CancellationToken cancellationToken)
    {
        _records.Enqueue(record);
        while (_records.Count > Capacity && _records.TryDequeue(out _))
        {
        }

        return Task.CompletedTask;
    }

    public Task<(IReadOnlyList<AuditRecord> Records, int Total)> ReadAsync(AuditQuery query, int skip, int take, CancellationToken cancellationToken)
    {
        var matching = _records.Reverse().Where(r => (query.Actor is null || r.Actor == query.Actor)
            && (query.Action is null || r.Action.Contains(query.Action, StringComparison.Ordinal))
            && (query.From is null || r.At >= query.From) && (query.To is null || r.At < query.To)).ToList();
        return Task.FromResult<(IReadOnlyList<AuditRecord>, int)>(([.. matching.Skip(skip).Take(take)], matching.Count));
    }
}
