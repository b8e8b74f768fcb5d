using System.Globalization;
using System.Net;
using System.Security.Claims;
using IoTHub.Data.Admin.Accounts;
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
/// the same accounts, the same failed-login limit per address, the same failure metric.
/// </summary>
internal sealed class AdminLogin(AdminAccounts accounts, LoginThrottle throttle, BrokerMetrics metrics)
{
    public const string ThrottledMessage = "Too many failed logins from this address; try again later.";
    public const string WrongCredentialsMessage = "The user name or password is wrong.";

    public async Task<LoginAttempt> TryAsync(string userName, string password, IPAddress? address, CancellationToken cancellationToken)
    {
        address ??= IPAddress.None;
        if (!throttle.MayTry(address, out var retryAfter))
        {
            return new LoginAttempt(LoginOutcome.Throttled, null, retryAfter);
        }

        var account = await accounts.VerifyAsync(userName, password, cancellationToken);
        if (account is null)
        {
            throttle.Failed(address);
            metrics.AdminLoginFailed();
            return new LoginAttempt(LoginOutcome.WrongCredentials, null, TimeSpan.Zero);
        }

        return new LoginAttempt(LoginOutcome.Succeeded, account, TimeSpan.Zero);
    }

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
