namespace IoTHub.Data.Admin.Audit;

/// <summary>Where the audit log is kept (see <see cref="AdminStores"/>).</summary>
public interface IAuditLog
{
    Task WriteAsync(AuditRecord record, CancellationToken cancellationToken);

    /// <summary>
    /// Newest first, <paramref name="take"/> records after the first <paramref name="skip"/>, and how many
    /// there are in all; <paramref name="actor"/> keeps only that actor's (exact match).
    /// </summary>
    Task<(IReadOnlyList<AuditRecord> Records, int Total)> ReadAsync(string? actor, int skip, int take, CancellationToken cancellationToken);
}
