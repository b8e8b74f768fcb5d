using IoTHub.Data.Admin.Accounts;
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

/// <summary>A change to an admin account: what is given changes.</summary>
/// <param name="Password">A new password: at least 12 characters.</param>
/// <param name="Role">A new role, admin or viewer; the account's tokens and dashboard logins end at once.</param>
internal sealed record UpdateAccountRequest(string? Password, string? Role);

/// <summary>/api/v1/accounts: the admin accounts; admins only. The dashboard's Accounts page runs the same handlers.</summary>
internal static class AccountsApi
{
    public const int MinimumPasswordLength = 12;

    public static IEndpointRouteBuilder MapAccountsApi(this IEndpointRouteBuilder api)
    {
        var accounts = api.MapGroup("/accounts").WithTags("Accounts").RequireAuthorization(AdminRoles.ChangePolicy);
        accounts.MapGet("/", List).WithName("ListAccounts").WithSummary("Lists the admin accounts.");
        accounts.MapPost("/", Create).WithName("CreateAccount").WithSummary("Creates an admin or viewer account.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        accounts.MapPut("/{userName}", Update).WithName("UpdateAccount")
            .WithSummary("Changes an account's password or role (or both); the last admin cannot become a viewer.")
            .ProducesProblem(StatusCodes.Status404NotFound)
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

    internal static async Task<Results<Created<AccountInfo>, ValidationProblem, ProblemHttpResult>> Create(AdminAccounts accounts, CreateAccountRequest request,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        errors.CheckName("userName", request.UserName);

        CheckPassword(request.Password, errors);
        CheckRole(request.Role, errors);

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

    internal static async Task<Results<Ok<AccountInfo>, ValidationProblem, ProblemHttpResult>> Update(AdminAccounts accounts, string userName,
        UpdateAccountRequest request, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        if (request is { Password: null, Role: null })
        {
            errors.Add("body", "must give password or role (or both).");
        }

        if (request.Password is not null)
        {
            CheckPassword(request.Password, errors);
        }

        if (request.Role is not null)
        {
            CheckRole(request.Role, errors);
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var all = await accounts.ListAsync(cancellationToken);
        if (all.FirstOrDefault(a => a.UserName == userName) is not { } account)
        {
            return ApiProblems.NotFound($"There is no account '{userName}'.");
        }

        if (IsLastAdmin(account, all) && request.Role is AdminRoles.Viewer)
        {
            return ApiProblems.Conflict("The last admin account cannot become a viewer.");
        }

        return await accounts.UpdateAsync(userName, request.Password, request.Role, cancellationToken) is { } changed
            ? TypedResults.Ok(new AccountInfo(changed.UserName, changed.Role, changed.CreatedAt))
            : ApiProblems.NotFound($"There is no account '{userName}'.");
    }

    private static void CheckPassword(string? password, ValidationErrors errors)
    {
        if (password is null || password.Length < MinimumPasswordLength)
        {
            errors.Add("password", $"must be at least {MinimumPasswordLength} characters.");
        }
    }

    private static void CheckRole(string? role, ValidationErrors errors)
    {
        if (role is null || !AdminRoles.IsKnown(role))
        {
            errors.Add("role", "must be admin or viewer.");
        }
    }

    private static bool IsLastAdmin(AdminAccount account, IReadOnlyList<AdminAccount> all) =>
        account.Role == AdminRoles.Admin && all.Count(static a => a.Role == AdminRoles.Admin) == 1;

    internal static async Task<Results<NoContent, ProblemHttpResult>> Delete(AdminAccounts accounts, string userName, CancellationToken cancellationToken)
    {
        var all = await accounts.ListAsync(cancellationToken);
        if (all.FirstOrDefault(a => a.UserName == userName) is not { } account)
        {
            return ApiProblems.NotFound($"There is no account '{userName}'.");
        }

        if (IsLastAdmin(account, all))
        {
            return ApiProblems.Conflict("The last admin account cannot be deleted.");
        }

        await accounts.DeleteAsync(userName, cancellationToken);
        return TypedResults.NoContent();
    }
}
