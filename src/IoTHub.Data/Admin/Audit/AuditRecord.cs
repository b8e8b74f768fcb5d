namespace IoTHub.Data.Admin.Audit;

/// <summary>One change made through the admin API or the dashboard, as the audit log keeps it.</summary>
/// <param name="At">When.</param>
/// <param name="Actor">The account, or "apikey:{name}", that made it.</param>
/// <param name="Action">
/// What was done, as the API's request line: method, path and query, e.g. "POST /api/v1/clients/c1/disconnect"; never a request
/// body. A change made in the dashboard is written as the request that makes the same change through the API.
/// </param>
/// <param name="Status">The HTTP status it was answered with (the dashboard: the status the API answers the same change with).</param>
/// <param name="RemoteAddress">The client's IP address.</param>
/// <param name="Source">Where it came from: <see cref="AuditSources.Api"/>, <see cref="AuditSources.ApiKey"/> or <see cref="AuditSources.Dashboard"/>.</param>
public sealed record AuditRecord(DateTimeOffset At, string Actor, string Action, int Status, string RemoteAddress, string Source);

/// <summary>The values of <see cref="AuditRecord.Source"/>.</summary>
public static class AuditSources
{
    /// <summary>A request to the API with an account's token (or a login to the API).</summary>
    public const string Api = "api";

    /// <summary>A request to the API with an API key.</summary>
    public const string ApiKey = "api-key";

    /// <summary>The dashboard (or a login to it).</summary>
    public const string Dashboard = "dashboard";
}
