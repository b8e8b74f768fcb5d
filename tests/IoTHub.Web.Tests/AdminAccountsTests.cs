using System.Security.Claims;
using IoTHub.Web.Auth;
using Microsoft.Extensions.DependencyInjection;

namespace IoTHub.Web.Tests;

/// <summary>
/// When a login of the admin API or the dashboard still stands, asked of the host's own accounts (its database): only for
/// an existing account with the same role, until the account signs out; a login from before logins carried the
/// sign-out count counts as issued at none.
/// </summary>
public sealed class AdminAccountsTests(AdminApiHost host) : IClassFixture<AdminApiHost>
{
    private const string Password = "long-enough-password";

    private AdminAccounts Accounts => host.Services.GetRequiredService<AdminAccounts>();

    [Fact]
    public async Task A_login_without_a_sign_out_count_stands_until_the_account_signs_out()
    {
        Assert.True(await Accounts.CreateAsync("older-login", Password, AdminRoles.Viewer, CancellationToken.None));
        var older = Login(("older-login", AdminRoles.Viewer, null));

        Assert.True(await Accounts.IsCurrentAsync(older, CancellationToken.None));
        Assert.False(await Accounts.SignOutAsync(older, CancellationToken.None));
        Assert.True(await Accounts.SignOutAsync(Login(("older-login", AdminRoles.Viewer, "0")), CancellationToken.None));
        Assert.False(await Accounts.IsCurrentAsync(older, CancellationToken.None));
    }

    [Fact]
    public async Task No_login_a_login_without_a_name_or_with_another_role_does_not_stand()
    {
        Assert.True(await Accounts.CreateAsync("role-checked", Password, AdminRoles.Viewer, CancellationToken.None));

        Assert.False(await Accounts.IsCurrentAsync(null, CancellationToken.None));
        Assert.False(await Accounts.IsCurrentAsync(new ClaimsPrincipal(new ClaimsIdentity()), CancellationToken.None));
        Assert.False(await Accounts.IsCurrentAsync(Login(("role-checked", AdminRoles.Admin, "0")), CancellationToken.None));
        Assert.False(await Accounts.IsCurrentAsync(Login(("nobody-of-that-name", AdminRoles.Viewer, "0")), CancellationToken.None));
        Assert.True(await Accounts.IsCurrentAsync(Login(("role-checked", AdminRoles.Viewer, "0")), CancellationToken.None));
    }

    [Fact]
    public async Task Changing_an_account_that_does_not_exist_changes_nothing()
    {
        Assert.Null(await Accounts.UpdateAsync("never-created", Password, AdminRoles.Admin, CancellationToken.None));
        Assert.Null(await Accounts.VerifyAsync("never-created", Password, CancellationToken.None));
    }

    private static ClaimsPrincipal Login((string Name, string Role, string? SignOuts) login)
    {
        List<Claim> claims = [new(AdminAuthentication.NameClaim, login.Name), new(AdminAuthentication.RoleClaim, login.Role)];
        if (login.SignOuts is { } signOuts)
        {
            claims.Add(new Claim(AdminAuthentication.SignOutsClaim, signOuts));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, "test", AdminAuthentication.NameClaim, AdminAuthentication.RoleClaim));
    }
}
