using System.ComponentModel;
using IoTHub.Data.Admin.Audit;
using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Audit;

/// <summary>One change made through the admin API.</summary>
/// <param name="At">When.</param>
/// <param name="Actor">The account, or "apikey:{name}", that made it.</param>
/// <param name="Action">Method, path and query, e.g. "POST /api/v1/clients/c1/disconnect"; never the body.</param>
/// <param name="Status">The HTTP status it was answered with.</param>
/// <param name="RemoteAddress">The client's IP address.</param>
internal sealed record AuditEntry(DateTimeOffset At, string Actor, string Action, int Status, string RemoteAddress)
{
    public static AuditEntry From(AuditRecord record) => new(record.At, record.Actor, record.Action, record.Status, record.RemoteAddress);
}

/// <summary>GET /api/v1/audit: the changes made through the API, newest first; admins only.</summary>
internal static class AuditApi
{
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/audit", List).WithTags("Audit log").WithName("ListAuditEntries")
            .WithSummary("Lists the changes made through the API, newest first: who, what, when, from where, and the status answered.")
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static async Task<Results<Ok<ResultPage<AuditEntry>>, ValidationProblem>> List(IAuditLog log, [AsParameters] PageQuery paging,
        [Description("Only the changes of this actor (an account name, or apikey:{name}).")] string? actor, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var (records, total) = await log.ReadAsync(actor, paging.Skip, paging.Size, cancellationToken);
        return TypedResults.Ok(new ResultPage<AuditEntry>([.. records.Select(AuditEntry.From)], paging.Page ?? 1, paging.Size, total));
    }
}
