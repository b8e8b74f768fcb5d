using IoTHub.Broker.Security.Audit;
using IoTHub.Data.Admin.Audit;

namespace IoTHub.Web.Api.Audit;

/// <summary>Which part of the audit log a search reads.</summary>
internal enum AuditKind
{
    /// <summary>Changes made through the admin API and the dashboard.</summary>
    Admin,

    /// <summary>Access decisions about MQTT clients.</summary>
    Access,
}

/// <summary>A search of the audit log: one kind and its criteria (null keeps everything), newest first; the API and the dashboard read through it.</summary>
/// <param name="Kind">The part of the log searched.</param>
/// <param name="Actor">admin: only this actor (exact).</param>
/// <param name="Action">admin: only actions that contain this text (case-sensitive).</param>
/// <param name="ClientId">access: only this client id (exact).</param>
/// <param name="UserName">access: only this user name (exact).</param>
/// <param name="Topic">access: only topics and filters that contain this text (case-sensitive).</param>
/// <param name="Result">access: only this result.</param>
/// <param name="From">Only entries at or after this time.</param>
/// <param name="To">Only entries before this time.</param>
internal sealed record AuditSearch(AuditKind Kind, string? Actor = null, string? ClientId = null, string? UserName = null, string? Topic = null,
    AccessAuditResult? Result = null, DateTimeOffset? From = null, DateTimeOffset? To = null, string? Action = null)
{
    /// <summary>The page of entries after the first <paramref name="skip"/>, and how many match in all.</summary>
    public async Task<(IReadOnlyList<AuditEntry> Entries, int Total)> RunAsync(IAuditLog admin, IAccessAuditLog access, int skip, int take,
        CancellationToken cancellationToken)
    {
        if (Kind == AuditKind.Admin)
        {
            var (records, total) = await admin.ReadAsync(new AuditQuery(Actor, From, To, Action), skip, take, cancellationToken);
            return ([.. records.Select(AuditEntry.From)], total);
        }

        var (entries, count) = await access.ReadAsync(new AccessAuditQuery(ClientId, UserName, Topic, Result, From, To), skip, take, cancellationToken);
        return ([.. entries.Select(AuditEntry.From)], count);
    }
}
