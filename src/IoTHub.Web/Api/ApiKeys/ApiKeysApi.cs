using System.Security.Claims;
using IoTHub.Data.Admin.ApiKeys;
using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.ApiKeys;

/// <summary>An API key, without the key.</summary>
/// <param name="Id">Its id, for DELETE /api/v1/api-keys/{id}.</param>
/// <param name="Name">What it is for.</param>
/// <param name="Role">admin or viewer.</param>
/// <param name="CreatedBy">The account that created it.</param>
/// <param name="CreatedAt">When it was created.</param>
internal sealed record ApiKeyInfo(int Id, string Name, string Role, string CreatedBy, DateTimeOffset CreatedAt)
{
    public static ApiKeyInfo From(AdminApiKey key) => new(key.Id, key.Name, key.Role, key.CreatedBy, key.CreatedAt);
}

/// <summary>A new API key.</summary>
/// <param name="Name">What it is for: 1 to 256 characters.</param>
/// <param name="Role">admin or viewer.</param>
internal sealed record CreateApiKeyRequest(string? Name, string? Role);

/// <summary>A new API key with the key itself, shown this once.</summary>
/// <param name="ApiKey">The key as recorded.</param>
/// <param name="Key">The key, for the X-Api-Key header. It cannot be shown again.</param>
internal sealed record CreatedApiKey(ApiKeyInfo ApiKey, string Key);

/// <summary>/api/v1/api-keys: keys for scripts, sent as X-Api-Key; admins only. The dashboard's API keys page runs the same handlers.</summary>
internal static class ApiKeysApi
{
    public static IEndpointRouteBuilder MapApiKeysApi(this IEndpointRouteBuilder api)
    {
        var keys = api.MapGroup("/api-keys").WithTags("API keys").RequireAuthorization(AdminRoles.ChangePolicy);
        keys.MapGet("/", List).WithName("ListApiKeys").WithSummary("Lists the API keys (never the keys themselves).");
        keys.MapPost("/", Create).WithName("CreateApiKey")
            .WithSummary("Creates an API key for scripts; the answer holds the key, shown this once. Send it as the X-Api-Key header.")
            .WithNoStore();
        keys.MapDelete("/{id:int}", Revoke).WithName("RevokeApiKey").WithSummary("Revokes an API key; it stops working at once.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<Results<Ok<ResultPage<ApiKeyInfo>>, ValidationProblem>> List(AdminApiKeys keys, [AsParameters] PageQuery paging,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        return TypedResults.Ok(paging.Apply((await keys.ListAsync(cancellationToken)).Select(ApiKeyInfo.From)));
    }

    internal static async Task<Results<Created<CreatedApiKey>, ValidationProblem>> Create(AdminApiKeys keys, CreateApiKeyRequest request, ClaimsPrincipal user,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 256)
        {
            errors.Add("name", "must be 1 to 256 characters.");
        }

        if (request.Role is null || !AdminRoles.IsKnown(request.Role))
        {
            errors.Add("role", "must be admin or viewer.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var (key, secret) = await keys.CreateAsync(request.Name!, request.Role!, user.Identity?.Name ?? "(unknown)", cancellationToken);
        return TypedResults.Created($"/api/v1/api-keys/{key.Id}", new CreatedApiKey(ApiKeyInfo.From(key), secret));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> Revoke(AdminApiKeys keys, int id, CancellationToken cancellationToken) =>
        await keys.RevokeAsync(id, cancellationToken) ? TypedResults.NoContent() : ApiProblems.NotFound($"There is no API key {id}.");
}
