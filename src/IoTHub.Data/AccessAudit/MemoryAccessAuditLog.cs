using System.Collections.Concurrent;
using IoTHub.Broker.Security.Audit;

namespace IoTHub.Data.AccessAudit;

/// <summary>
/// The newest <see cref="Capacity"/> entries, for as long as the process runs (the memory and file providers); the audit's
/// retention (<see cref="PruneAsync"/>) may keep fewer and younger ones.
/// </summary>
internal sealed class MemoryAccessAuditLog : IAccessAuditLog
{
    public const int Capacity = 10_000;

    private readonly ConcurrentQueue<AccessAuditEntry> _entries = new();

    // The writer and the pruner both take entries off the head; one at a time, so neither removes one the other only looked at.
    private readonly Lock _trimming = new();

    public Task WriteAsync(IReadOnlyList<AccessAuditEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries)
        {
            _entries.Enqueue(entry);
        }

        lock (_trimming)
        {
            while (_entries.Count > Capacity && _entries.TryDequeue(out _))
            {
            }
        }

        return Task.CompletedTask;
    }

    public Task<(IReadOnlyList<AccessAuditEntry> Entries, int Total)> ReadAsync(AccessAuditQuery query, int skip, int take, CancellationToken cancellationToken)
    {
        var matching = _entries.Reverse().Where(e => (query.ClientId is null || e.ClientId == query.ClientId)
            && (query.UserName is null || e.UserName == query.UserName)
            && (query.Topic is null || (e.Topic?.Contains(query.Topic, StringComparison.Ordinal) ?? false))
            && (query.Result is null || e.Result == query.Result)
            && (query.From is null || e.At >= query.From) && (query.To is null || e.At < query.To)).ToList();
        return Task.FromResult<(IReadOnlyList<AccessAuditEntry>, int)>(([.. matching.Skip(skip).Take(take)], matching.Count));
    }

    /// <summary>Entries come in the order they were recorded, so the old ones and the surplus are both at the head.</summary>
    public Task<long> PruneAsync(DateTimeOffset olderThan, long keep, CancellationToken cancellationToken)
    {
        long deleted = 0;
        lock (_trimming)
        {
            while (_entries.TryPeek(out var oldest) && (_entries.Count > keep || oldest.At < olderThan) && _entries.TryDequeue(out _))
            {
                deleted++;
            }
        }

        return Task.FromResult(deleted);
    }
}
