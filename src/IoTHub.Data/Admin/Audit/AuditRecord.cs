namespace IoTHub.Data.Admin.Audit;

/// <summary>One change made through the admin API or the dashboard, as the audit log keeps it.</summary>
/// <param name="At">When.</param>
/// <param name="Actor">The account, or "apikey:{name}", that made it.</param>
/// <param name="Action">What was done, e.g. "POST /api/v1/clients/c1/disconnect"; never a request body.</param>
/// <param name="Status">The HTTP status it was answered with.</param>
/// <param name="RemoteAddress">The client's IP address.</param>
public sealed record AuditRecord(DateTimeOffset At, string Actor, string Action, int Status, string RemoteAddress);
