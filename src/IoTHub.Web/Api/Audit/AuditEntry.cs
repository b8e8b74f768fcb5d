using IoTHub.Broker.Security.Audit;
using IoTHub.Data.Admin.Audit;

namespace IoTHub.Web.Api.Audit;

/// <summary>
/// One entry of the audit log: a change made through the admin API or the dashboard (kind <c>admin</c>), or an access
/// decision about an MQTT client (kind <c>access</c>). Fields of the other kind are null.
/// </summary>
/// <param name="Kind">admin or access.</param>
/// <param name="At">When.</param>
/// <param name="Actor">admin: the account, or "apikey:{name}", that made the change.</param>
/// <param name="Action">admin: the API's request line, method, path and query, e.g. "POST /api/v1/clients/c1/disconnect" (never the body), a change made in the dashboard included (the request that makes the same change through the API); access: publish, subscribe or receive (null in a dropped summary).</param>
/// <param name="Status">admin: the HTTP status it was answered with.</param>
/// <param name="RemoteAddress">admin: the client's IP address; access: the MQTT client's address and port.</param>
/// <param name="Source">admin: where the change came from: api (an account's token), api-key or dashboard.</param>
/// <param name="Result">access: allow, deny, or dropped (not a decision: how many decisions were not recorded, in Dropped).</param>
/// <param name="Broker">access: the broker's name.</param>
/// <param name="Listener">access: the listener the client came in on, by its URL.</param>
/// <param name="UserName">access: the client's user name; null for an anonymous client.</param>
/// <param name="ClientId">access: the client id.</param>
/// <param name="Topic">access: the topic (publish, receive) or topic filter (subscribe).</param>
/// <param name="Rule">access: where the rule that decided is written (e.g. /etc/iothub/acl:12; a stored rule by scope and id: role:operators#7, user:alice#8, everyone#9), "superuser" for a superuser, or "default" when no rule spoke (Security:AclDefault decided).</param>
/// <param name="Dropped">access, result dropped: decisions not recorded since the previous such entry (over Security:AccessAudit:MaxPerSecond, or the store fell behind).</param>
internal sealed record AuditEntry(string Kind, DateTimeOffset At, string? Actor, string? Action, int? Status, string? RemoteAddress, string? Source = null,
    string? Result = null, string? Broker = null, string? Listener = null, string? UserName = null, string? ClientId = null, string? Topic = null,
    string? Rule = null, long? Dropped = null)
{
    public const string AdminKind = "admin";
    public const string AccessKind = "access";

    public static AuditEntry From(AuditRecord record) => new(AdminKind, record.At, record.Actor, record.Action, record.Status, record.RemoteAddress, record.Source);

    public static AuditEntry From(AccessAuditEntry entry) =>
        new(AccessKind, entry.At, null, entry.Action?.Name(), null, entry.Address, null, entry.Result.Name(), entry.Broker, entry.Listener, entry.UserName,
            entry.ClientId, entry.Topic, entry.Rule, entry.Result == AccessAuditResult.Dropped ? entry.Dropped : null);
}
