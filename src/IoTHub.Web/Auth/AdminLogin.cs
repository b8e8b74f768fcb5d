using System.Globalization;
using System.Net;
using System.Security.Claims;
using IoTHub.Data.Admin.Accounts;
using IoTHub.Data.Admin.Audit;
using IoTHub.Web.Api;
using IoTHub.Web.Audit;
using IoTHub.Web.Metrics;

namespace IoTHub.Web.Auth;

/// <summary>How a login attempt ended.</summary>
internal enum LoginOutcome
{
    Succeeded,
    WrongCredentials,
    Throttled,
}

/// <summary>A login attempt's outcome: the account when it succeeded, how long to wait when throttled.</summary>
internal sealed record LoginAttempt(LoginOutcome Outcome, AdminAccount? Account, TimeSpan RetryAfter);

/// <summary>
/// Checks an admin account's password for both logins, the API's token and the dashboard's cookie:
/// the same accounts, the same failed-login limit per address, the same failure metric, and each
/// failure written to the audit log (actor: the user name tried, cut to 256 characters; action: the
/// login's method and path; source: api or dashboard; status: 401, or 429 when throttled).
/// </summary>
internal sealed class AdminLogin(AdminAccounts accounts, LoginThrottle throttle, BrokerMetrics metrics, IAuditLog audit, TimeProvider time)
{
    public const string ThrottledMessage = "Too many failed logins from this address; try again later.";
    public const string WrongCredentialsMessage = "The user name or password is wrong.";

    private const int LoggedNameLength = 256;

    public async Task<LoginAttempt> TryAsync(string userName, string password, HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress ?? IPAddress.None;
        if (!throttle.MayTry(address, out var retryAfter))
        {
            await AuditFailureAsync(context, userName, address, StatusCodes.Status429TooManyRequests);
            return new LoginAttempt(LoginOutcome.Throttled, null, retryAfter);
        }

        var account = await accounts.VerifyAsync(userName, password, context.RequestAborted);
        if (account is null)
        {
            throttle.Failed(address);
            metrics.AdminLoginFailed();
            await AuditFailureAsync(context, userName, address, StatusCodes.Status401Unauthorized);
            return new LoginAttempt(LoginOutcome.WrongCredentials, null, TimeSpan.Zero);
        }

        return new LoginAttempt(LoginOutcome.Succeeded, account, TimeSpan.Zero);
    }

    private Task AuditFailureAsync(HttpContext context, string userName, IPAddress address, int status) =>
        audit.WriteAsync(new AuditRecord(time.GetUtcNow(), userName.Length > LoggedNameLength ? userName[..LoggedNameLength] : userName,
            AdminAudit.Action(context.Request.Method, context.Request.Path), status, address.ToString(),
            context.Request.Path.StartsWithSegments(AdminApi.Prefix, StringComparison.OrdinalIgnoreCase) ? AuditSources.Api : AuditSources.Dashboard),
            CancellationToken.None);

    /// <summary>The claims every login carries: the account's name and role.</summary>
    public static ClaimsIdentity Identity(string name, string role, string authenticationType) =>
        new([new Claim(AdminAuthentication.NameClaim, name), new Claim(AdminAuthentication.RoleClaim, role)],
            authenticationType, AdminAuthentication.NameClaim, AdminAuthentication.RoleClaim);

    /// <summary>The claims of an account's login (token or cookie): its name, role and sign-outs so far (the login ends at the next one).</summary>
    public static ClaimsIdentity Identity(AdminAccount account, string authenticationType)
    {
        var identity = Identity(account.UserName, account.Role, authenticationType);
        identity.AddClaim(new Claim(AdminAuthentication.SignOutsClaim, account.SignOuts.ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer32));
        return identity;
    }
}
