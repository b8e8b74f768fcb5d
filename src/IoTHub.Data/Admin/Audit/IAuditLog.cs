namespace IoTHub.Data.Admin.Audit;

/// <summary>Where the audit log is kept (see <see cref="AdminStores"/>).</summary>
public interface IAuditLog
{
    Task WriteAsync(AuditRecord record, CancellationToken cancellationToken);

    /// <summary>Newest first, <paramref name="take"/> records that match after the first <paramref name="skip"/>, and how many match in all.</summary>
    Task<(IReadOnlyList<AuditRecord> Records, int Total)> ReadAsync(AuditQuery query, int skip, int take, CancellationToken cancellationToken);
}

/// <summary>A search of the audit log; a null criterion keeps every record.</summary>
/// <param name="Actor">Only this actor's (exact).</param>
/// <param name="From">Only records at or after this time.</param>
/// <param name="To">Only records before this time.</param>
/// <param name="Action">Only records whose action contains this text (case-sensitive): a method, a path, a topic, a name.</param>
public sealed record AuditQuery(string? Actor = null, DateTimeOffset? From = null, DateTimeOffset? To = null, string? Action = null);
