using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>A host that allows two failed logins per address, like the API's limit (Admin:FailedLoginLimit).</summary>
public sealed class TwoFailedLoginsHost() : DashboardHost(new Dictionary<string, string> { ["Admin:FailedLoginLimit"] = "2" });

/// <summary>The login form shares the API's failed-login limit: beyond it, even the right password is refused for a while.</summary>
public sealed class LoginThrottleTests(TwoFailedLoginsHost host, Chromium chromium) : IClassFixture<TwoFailedLoginsHost>, IClassFixture<Chromium>
{
    [Fact]
    public async Task Failed_logins_beyond_the_limit_are_refused_with_429()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        for (var i = 0; i < 2; i++)
        {
            var wrong = await SubmitAsync(page, "not-the-password");
            Assert.Equal(401, wrong.Status);
            await Expect(page.GetByTestId("login-error")).ToHaveTextAsync(AdminLogin.WrongCredentialsMessage);
        }

        var refused = await SubmitAsync(page, AdminApiHost.AdminPassword);
        Assert.Equal(429, refused.Status);
        await Expect(page.GetByTestId("login-error")).ToHaveTextAsync(AdminLogin.ThrottledMessage);
    }

    /// <summary>Posts the login form and returns the answer to the post.</summary>
    private static async Task<IResponse> SubmitAsync(IPage page, string password)
    {
        await page.GotoAsync("/login");
        await page.Locator("#userName").FillAsync(FirstAdmin.UserName);
        await page.Locator("#password").FillAsync(password);
        return await page.RunAndWaitForResponseAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync(),
            static response => response.Request.Method == "POST");
    }
}
