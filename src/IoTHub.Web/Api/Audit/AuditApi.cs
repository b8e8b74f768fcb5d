using System.ComponentModel;
using IoTHub.Broker.Security.Audit;
using IoTHub.Data.Admin.Audit;
using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Audit;

/// <summary>
/// GET /api/v1/audit: the audit log, newest first, admins only: the changes made through the API and the dashboard
/// (<c>kind=admin</c>, the default, as before access decisions were recorded) or the access decisions about MQTT clients
/// (<c>kind=access</c>), each with its own criteria.
/// </summary>
internal static class AuditApi
{
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/audit", List).WithTags("Audit log").WithName("ListAuditEntries")
            .WithSummary("Lists the audit log, newest first: changes made through the API and the dashboard (kind=admin, the default), " +
                "or access decisions about MQTT clients (kind=access): who, from where, what, the result and the rule that decided.")
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static async Task<Results<Ok<ResultPage<AuditEntry>>, ValidationProblem>> List(IAuditLog adminLog, IAccessAuditLog accessLog,
        [AsParameters] PageQuery paging,
        [Description("admin (the default): changes made through the API and the dashboard; access: access decisions about MQTT clients.")] string? kind,
        [Description("kind=admin: only the changes of this actor (an account name, or apikey:{name}; for a failed login, the name tried).")] string? actor,
        [Description("kind=admin: only the changes whose action contains this text (case-sensitive): a method, a path, a name in a path. The action is the API's request line, for a change made in the dashboard too.")] string? action,
        [Description("kind=access: only the decisions about this client id (exact).")] string? clientId,
        [Description("kind=access: only the decisions about clients of this user name (exact).")] string? user,
        [Description("kind=access: only topics and topic filters that contain this text (case-sensitive).")] string? topic,
        [Description("kind=access: only allow, deny, or dropped (the summaries of decisions not recorded).")] string? result,
        [Description("Only entries at or after this time (ISO 8601, e.g. 2026-11-27T09:00:00Z).")] DateTimeOffset? from,
        [Description("Only entries before this time (ISO 8601).")] DateTimeOffset? to,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        var search = Read(kind, actor, clientId, user, topic, result, from, to, errors) with { Action = NullIfEmpty(action) };
        if (search.Kind == AuditKind.Access && search.Action is not null)
        {
            errors.Add("action", $"searches the changes made through the API and the dashboard: leave it out with kind={AuditEntry.AccessKind}.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var (entries, total) = await search.RunAsync(adminLog, accessLog, paging.Skip, paging.Size, cancellationToken);
        return TypedResults.Ok(new ResultPage<AuditEntry>(entries, paging.Page ?? 1, paging.Size, total));
    }

    private static AuditSearch Read(string? kind, string? actor, string? clientId, string? user, string? topic, string? result, DateTimeOffset? from,
        DateTimeOffset? to, ValidationErrors errors)
    {
        var searched = kind switch
        {
            null or "" or AuditEntry.AdminKind => AuditKind.Admin,
            AuditEntry.AccessKind => AuditKind.Access,
            _ => (AuditKind?)null,
        };
        if (searched is null)
        {
            errors.Add("kind", $"must be {AuditEntry.AdminKind} or {AuditEntry.AccessKind}.");
        }

        var accessResult = AccessAuditNames.ParseResult(result);
        if (!string.IsNullOrEmpty(result) && accessResult is null)
        {
            errors.Add("result", "must be allow, deny or dropped.");
        }

        if (from is { } start && to is { } end && end <= start)
        {
            errors.Add("to", "must be after from.");
        }

        if (searched == AuditKind.Admin)
        {
            foreach (var (name, value) in new[] { ("clientId", clientId), ("user", user), ("topic", topic), ("result", result) })
            {
                if (!string.IsNullOrEmpty(value))
                {
                    errors.Add(name, $"searches access decisions: add kind={AuditEntry.AccessKind}.");
                }
            }
        }
        else if (searched == AuditKind.Access && !string.IsNullOrEmpty(actor))
        {
            errors.Add("actor", $"searches the changes made through the API: leave it out with kind={AuditEntry.AccessKind}.");
        }

        return new AuditSearch(searched ?? AuditKind.Admin, NullIfEmpty(actor), NullIfEmpty(clientId), NullIfEmpty(user), NullIfEmpty(topic), accessResult,
            from, to);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
