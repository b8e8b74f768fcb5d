using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Accounts;

/// <summary>An admin account, without its password hash.</summary>
/// <param name="UserName">The name it logs in with.</param>
/// <param name="Role">admin or viewer.</param>
/// <param name="CreatedAt">When it was created.</param>
internal sealed record AccountInfo(string UserName, string Role, DateTimeOffset CreatedAt);

/// <summary>A new admin account.</summary>
/// <param name="UserName">1 to 256 characters, no control characters.</param>
/// <param name="Password">At least 12 characters; stored hashed only.</param>
/// <param name="Role">admin (may change anything) or viewer (reads only).</param>
internal sealed record CreateAccountRequest(string? UserName, string? Password, string? Role);

/// <summary>/api/v1/accounts: the admin accounts; admins only.</summary>
internal static class AccountsApi
{
    public const int MinimumPasswordLength = 12;

    public static IEndpointRouteBuilder MapAccountsApi(this IEndpointRouteBuilder api)
    {
        var accounts = api.MapGroup("/accounts").WithTags("Accounts").RequireAuthorization(AdminRoles.ChangePolicy);
        accounts.MapGet("/", List).WithName("ListAccounts").WithSummary("Lists the admin accounts.");
        accounts.MapPost("/", Create).WithName("CreateAccount").WithSummary("Creates an admin or viewer account.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        accounts.MapDelete("/{userName}", Delete).WithName("DeleteAccount").WithSummary("Deletes an account; the last admin cannot be deleted.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    private static async Task<Results<Ok<ResultPage<AccountInfo>>, ValidationProblem>> List(AdminAccounts accounts, [AsParameters] PageQuery paging,
        string? role, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        if (role is not null && !AdminRoles.IsKnown(role))
        {
            errors.Add("role", "must be admin or viewer.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var all = await accounts.ListAsync(cancellationToken);
        return TypedResults.Ok(paging.Apply(all.Where(a => role is null || a.Role == role).Select(static a => new AccountInfo(a.UserName, a.Role, a.CreatedAt))));
    }

    private static async Task<Results<Created<AccountInfo>, ValidationProblem, ProblemHttpResult>> Create(AdminAccounts accounts, CreateAccountRequest request,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        errors.CheckName("userName", request.UserName);

        if (request.Password is null || request.Password.Length < MinimumPasswordLength)
        {
            errors.Add("password", $"must be at least {MinimumPasswordLength} characters.");
        }

        if (request.Role is null || !AdminRoles.IsKnown(request.Role))
        {
            errors.Add("role", "must be admin or viewer.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        if (!await accounts.CreateAsync(request.UserName!, request.Password!, request.Role!, cancellationToken))
        {
            return ApiProblems.Conflict($"An account named '{request.UserName}' exists.");
        }

        return TypedResults.Created($"/api/v1/accounts/{Uri.EscapeDataString(request.UserName!)}", new AccountInfo(request.UserName!, request.Role!, time.GetUtcNow()));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(AdminAccounts accounts, string userName, CancellationToken cancellationToken)
    {
        var all = await accounts.ListAsync(cancellationToken);
        if (all.FirstOrDefault(a => a.UserName == userName) is not { } account)
        {
            return ApiProblems.NotFound($"There is no account '{userName}'.");
        }

        if (account.Role == AdminRoles.Admin && all.Count(static a => a.Role == AdminRoles.Admin) == 1)
        {
            return ApiProblems.Conflict("The last admin account cannot be deleted.");
        }

        await accounts.DeleteAsync(userName, cancellationToken);
        return TypedResults.NoContent();
    }
}
