namespace IoTHub.Data.Entities;

/// <summary>One change made through the admin API or the dashboard: who, what, when, from where, and how it ended.</summary>
public sealed class AuditEntryEntity
{
    public long Id { get; set; }

    /// <summary>When, in Unix milliseconds.</summary>
    public long At { get; set; }

    /// <summary>The account (or "apikey:{name}") that made the change.</summary>
    public required string Actor { get; set; }

    /// <summary>Method and path with query, e.g. "POST /api/v1/clients/c1/disconnect?broker=default"; never a body (the dashboard writes the same request line).</summary>
    public required string Action { get; set; }

    /// <summary>The HTTP status it was answered with.</summary>
    public int Status { get; set; }

    /// <summary>The client's IP address.</summary>
    public required string RemoteAddress { get; set; }

    /// <summary>Where the change came from: api, api-key or dashboard.</summary>
    public required string Source { get; set; }
}
