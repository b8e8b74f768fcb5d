using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;

namespace IoTHub.Web.Dashboard.Auth;

/// <summary>
/// A circuit outlives the request that checked its cookie: every <see cref="Interval"/> it checks
/// again that the account still exists with the same role, and an open page of a deleted account goes
/// back to the login page by itself (one indexed read per circuit and interval).
/// </summary>
internal sealed class AccountRevalidation(ILoggerFactory loggerFactory, AdminAccounts accounts) : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(20);

    protected override TimeSpan RevalidationInterval => Interval;

    protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken) =>
        accounts.IsCurrentAsync(authenticationState.User, cancellationToken);
}
