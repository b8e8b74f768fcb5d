using System.Collections.Concurrent;
using IoTHub.Broker.Security.Audit;

namespace IoTHub.Data.AccessAudit;

/// <summary>The newest <see cref="Capacity"/> entries, for as long as the process runs (the memory and file providers).</summary>
internal sealed class MemoryAccessAuditLog : IAccessAuditLog
{
    public const int Capacity = 10_000;

    private readonly ConcurrentQueue<AccessAuditEntry> _entries = new();

    public Task WriteAsync(IReadOnlyList<AccessAuditEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries)
        {
            _entries.Enqueue(entry);
        }

        while (_entries.Count > Capacity && _entries.TryDequeue(out _))
        {
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
}
