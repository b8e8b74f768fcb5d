using System.ComponentModel;
using IoTHub.Web.Audit;
using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Audit;

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

    private static async Task<Results<Ok<ResultPage<AuditEntry>>, ValidationProblem>> List(AuditLog log, [AsParameters] PageQuery paging,
        [Description("Only the changes of this actor (an account name, or apikey:{name}).")] string? actor, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var (entries, total) = await log.ReadAsync(actor, paging.Skip, paging.Size, cancellationToken);
        return TypedResults.Ok(new ResultPage<AuditEntry>(entries, paging.Page ?? 1, paging.Size, total));
    }
}
