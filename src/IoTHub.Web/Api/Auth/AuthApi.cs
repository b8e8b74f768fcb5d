using System.Globalization;
using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Auth;

/// <summary>An admin account's credentials.</summary>
internal sealed record LoginRequest(string? UserName, string? Password);

/// <summary>A token for the Authorization header: <c>Bearer {accessToken}</c>.</summary>
/// <param name="AccessToken">The JWT.</param>
/// <param name="TokenType">Always "Bearer".</param>
/// <param name="ExpiresAt">When it stops being accepted.</param>
/// <param name="ExpiresIn">Seconds until then.</param>
/// <param name="UserName">The account it was issued to.</param>
/// <param name="Role">admin or viewer.</param>
internal sealed record LoginResponse(string AccessToken, string TokenType, DateTimeOffset ExpiresAt, long ExpiresIn, string UserName, string Role);

/// <summary>POST /api/v1/auth/login, the one API endpoint open to anonymous callers, and POST /api/v1/auth/logout.</summary>
internal static class AuthApi
{
    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder api)
    {
        api.MapPost("/auth/login", Login).WithTags("Authentication").WithName("Login")
            .WithSummary("Exchanges an admin account's user name and password for a bearer token.")
            .WithDescription("Failed logins are limited per client address (Admin:FailedLoginLimit per Admin:FailedLoginWindow); beyond that the answer is 429 with Retry-After.")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .AllowAnonymous()
            .WithNoStore();
        api.MapPost("/auth/logout", Logout).WithTags("Authentication").WithName("Logout")
            .WithSummary("Signs the caller's account out: its bearer token, and every other token and dashboard login of the account, answer 401 from now on.")
            .WithDescription("API keys are not logins: they end with DELETE /api/v1/api-keys/{id} (400 here).")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return api;
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Logout(HttpContext context, AdminAccounts accounts) =>
        await accounts.SignOutAsync(context.User, context.RequestAborted)
            ? TypedResults.NoContent()
            : TypedResults.Problem("An API key is not a login: revoke it with DELETE /api/v1/api-keys/{id}.", statusCode: StatusCodes.Status400BadRequest);

    private static async Task<Results<Ok<LoginResponse>, ValidationProblem, ProblemHttpResult>> Login(LoginRequest request, HttpContext context,
        AdminLogin login, TokenIssuer tokens, TimeProvider time)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrEmpty(request.UserName))
        {
            errors.Add("userName", "is required.");
        }

        if (string.IsNullOrEmpty(request.Password))
        {
            errors.Add("password", "is required.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var attempt = await login.TryAsync(request.UserName!, request.Password!, context);
        if (attempt.Outcome == LoginOutcome.Throttled)
        {
            context.Response.Headers.RetryAfter = Math.Ceiling(attempt.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return TypedResults.Problem(AdminLogin.ThrottledMessage, statusCode: StatusCodes.Status429TooManyRequests);
        }

        if (attempt.Account is not { } account)
        {
            return TypedResults.Problem(AdminLogin.WrongCredentialsMessage, statusCode: StatusCodes.Status401Unauthorized);
        }

        var (token, expiresAt) = tokens.Issue(account);
        var expiresIn = (long)Math.Round((expiresAt - time.GetUtcNow()).TotalSeconds);
        return TypedResults.Ok(new LoginResponse(token, "Bearer", expiresAt, expiresIn, account.UserName, account.Role));
    }
}
