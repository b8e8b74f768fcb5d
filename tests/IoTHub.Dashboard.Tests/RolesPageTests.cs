using System.Net.Http.Json;
using System.Text.Json;
using IoTHub.Testing;
using IoTHub.Web.Auth;
using IoTHub.Web.Tests;
using Microsoft.Playwright;
using static IoTHub.Dashboard.Tests.DashboardPage;
using static Microsoft.Playwright.Assertions;

namespace IoTHub.Dashboard.Tests;

/// <summary>The Roles page end to end (issue 17): real chromium, real mosquitto clients refused by what the page set.</summary>
public sealed class RolesPageTests(DatabaseUsersDashboardHost host, Chromium chromium) : IClassFixture<DatabaseUsersDashboardHost>, IClassFixture<Chromium>
{
    private const string Refused = "Subscribed (mid: 1): 135"; // SUBACK 0x87 Not authorized
    private const string Granted = "Subscribed (mid: 1): 0";

    [Fact]
    public async Task A_role_with_a_deny_rule_given_to_a_user_in_the_page_refuses_its_mosquitto_client()
    {
        await AddMqttUserAsync("dash-member", "member-password");
        await SubscribeAsync("dash-member", "member-password", "dash/roles/secret/x", Granted);

        var page = await AdminPageAsync();
        await page.Locator("#new-role-name").FillAsync("dash-blockers");
        await page.Locator("#new-role-description").FillAsync("no secrets");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create role", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Created role 'dash-blockers'.");

        var role = page.Locator("tr[data-role=\"dash-blockers\"]");
        await role.GetByRole(AriaRole.Button, new() { Name = "Add a rule", Exact = true }).ClickAsync();
        await Expect(page.Locator("#rule-role")).ToHaveValueAsync("dash-blockers");
        await page.Locator("#rule-permission").SelectOptionAsync("deny");
        await page.Locator("#rule-action").SelectOptionAsync("subscribe");
        await page.Locator("#rule-filter").FillAsync("dash/roles/secret/#");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add rule", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToContainTextAsync("of role 'dash-blockers'.");
        await Expect(role).ToContainTextAsync("deny subscribe dash/roles/secret/#");

        var user = page.Locator("tr[data-user=\"dash-member\"]");
        await user.GetByRole(AriaRole.Button, new() { Name = "Change roles" }).ClickAsync();
        await user.GetByLabel("dash-blockers").CheckAsync();
        await user.GetByRole(AriaRole.Button, new() { Name = "Save roles" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("'dash-member' holds 'dash-blockers'.");
        await Expect(user).ToContainTextAsync("dash-blockers");
        await Expect(role.Locator("td").Nth(2)).ToHaveTextAsync("1");

        await SubscribeAsync("dash-member", "member-password", "dash/roles/secret/x", Refused);
        await SubscribeAsync("dash-member", "member-password", "dash/roles/open/x", Granted);

        // Deleting the role asks first, names it, and gives the user its subscription back.
        await role.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await Expect(role).ToContainTextAsync("Delete role dash-blockers with its rules?");
        await role.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Deleted role 'dash-blockers'; its members lost it.");
        await Expect(role).ToHaveCountAsync(0);
        await SubscribeAsync("dash-member", "member-password", "dash/roles/secret/x", Granted);
    }

    [Fact]
    public async Task A_rule_for_everyone_refuses_until_the_user_is_made_a_superuser_and_is_removed_from_the_page()
    {
        await AddMqttUserAsync("dash-super", "super-password");
        var page = await AdminPageAsync();
        await page.Locator("#rule-scope").SelectOptionAsync("everyone");
        await page.Locator("#rule-permission").SelectOptionAsync("deny");
        await page.Locator("#rule-action").SelectOptionAsync("both");
        await page.Locator("#rule-filter").FillAsync("dash/everyone/%u/#");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add rule", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToContainTextAsync("for everyone.");

        // The pattern flag defaults as the API's: on, since the filter holds %u.
        await page.Locator("#rule-filter-scope").SelectOptionAsync("everyone");
        var rule = page.GetByTestId("rules").Locator("tbody tr", new() { HasText = "dash/everyone/" });
        await Expect(rule).ToHaveCountAsync(1);
        await Expect(rule).ToContainTextAsync("deny both dash/everyone/%u/# (placeholders)");
        await page.Locator("#rule-filter-scope").SelectOptionAsync("role");
        await Expect(rule).ToHaveCountAsync(0);
        await SubscribeAsync("dash-super", "super-password", "dash/everyone/dash-super/x", Refused);

        var user = page.Locator("tr[data-user=\"dash-super\"]");
        await user.GetByRole(AriaRole.Button, new() { Name = "Make superuser" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("'dash-super' is a superuser: no rule applies to it.");
        await Expect(user.Locator("td").Nth(1)).ToHaveTextAsync("yes");
        await SubscribeAsync("dash-super", "super-password", "dash/everyone/dash-super/x", Granted);
        await user.GetByRole(AriaRole.Button, new() { Name = "Remove superuser" }).ClickAsync();
        await Expect(user.Locator("td").Nth(1)).ToHaveTextAsync("no");

        await page.Locator("#rule-filter-scope").SelectOptionAsync("everyone");
        await rule.GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToContainTextAsync("Deleted rule ");
        await Expect(rule).ToHaveCountAsync(0);
        await SubscribeAsync("dash-super", "super-password", "dash/everyone/dash-super/x", Granted);
    }

    [Fact]
    public async Task An_invalid_topic_filter_is_shown_next_to_the_field_and_stores_nothing()
    {
        var admin = await host.AdminAsync();
        (await admin.PostAsJsonAsync("/api/v1/roles", new { name = "dash-invalid" })).EnsureSuccessStatusCode();

        var page = await AdminPageAsync();
        await page.Locator("tr[data-role=\"dash-invalid\"]").GetByRole(AriaRole.Button, new() { Name = "Add a rule", Exact = true }).ClickAsync();
        await Expect(page.Locator("#rule-role")).ToHaveValueAsync("dash-invalid");
        await page.Locator("#rule-filter").FillAsync("dash/#/bad");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add rule", Exact = true }).ClickAsync();

        await Expect(page.GetByTestId("rule-topicFilter-error")).ToContainTextAsync("is not a valid topic filter");
        await Expect(page.Locator("#rule-filter")).ToHaveValueAsync("dash/#/bad");
        using var rules = JsonDocument.Parse(await admin.GetStringAsync("/api/v1/acl-rules?role=dash-invalid"));
        Assert.Equal(0, rules.RootElement.GetProperty("totalCount").GetInt32());
    }

    [Fact]
    public async Task A_role_renamed_in_the_page_keeps_its_rules_and_a_name_taken_is_refused()
    {
        var admin = await host.AdminAsync();
        (await admin.PostAsJsonAsync("/api/v1/roles", new { name = "dash-before", description = "old words" })).EnsureSuccessStatusCode();
        (await admin.PostAsJsonAsync("/api/v1/roles", new { name = "dash-taken" })).EnsureSuccessStatusCode();
        (await admin.PostAsJsonAsync("/api/v1/acl-rules",
            new { scope = "role", role = "dash-before", permission = "allow", action = "publish", topicFilter = "dash/renamed/#" })).EnsureSuccessStatusCode();

        var page = await AdminPageAsync();
        var before = page.Locator("tr[data-role=\"dash-before\"]");
        await before.GetByRole(AriaRole.Button, new() { Name = "Edit", Exact = true }).ClickAsync();
        await Expect(page.GetByLabel("Description of dash-before")).ToHaveValueAsync("old words");
        await page.GetByLabel("New name of dash-before").FillAsync("dash-taken");
        await before.GetByRole(AriaRole.Button, new() { Name = "Save role" }).ClickAsync();
        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("A role named 'dash-taken' exists.");

        await page.GetByLabel("New name of dash-before").FillAsync("dash-after");
        await page.GetByLabel("Description of dash-before").FillAsync("new words");
        await before.GetByRole(AriaRole.Button, new() { Name = "Save role" }).ClickAsync();

        await Expect(page.GetByTestId("outcome")).ToHaveTextAsync("Saved role 'dash-after'.");
        var after = page.Locator("tr[data-role=\"dash-after\"]");
        await Expect(after).ToContainTextAsync("new words");
        await Expect(after).ToContainTextAsync("allow publish dash/renamed/#");
        await Expect(before).ToHaveCountAsync(0);
        using var role = JsonDocument.Parse(await admin.GetStringAsync("/api/v1/roles/dash-after"));
        Assert.Equal("new words", role.RootElement.GetProperty("description").GetString());
    }

    [Fact]
    public async Task A_rule_for_one_user_chosen_in_the_page_refuses_only_that_users_client()
    {
        await AddMqttUserAsync("dash-ruled", "ruled-password");
        await AddMqttUserAsync("dash-unruled", "unruled-password");

        var page = await AdminPageAsync();
        await page.Locator("#rule-scope").SelectOptionAsync("user");
        await page.Locator("#rule-user").SelectOptionAsync("dash-ruled");
        await page.Locator("#rule-permission").SelectOptionAsync("deny");
        await page.Locator("#rule-action").SelectOptionAsync("subscribe");
        await page.Locator("#rule-filter").FillAsync("dash/ruled/#");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add rule", Exact = true }).ClickAsync();

        await Expect(page.GetByTestId("outcome")).ToContainTextAsync("of user 'dash-ruled'.");
        await SubscribeAsync("dash-ruled", "ruled-password", "dash/ruled/x", Refused);
        await SubscribeAsync("dash-unruled", "unruled-password", "dash/ruled/x", Granted);
    }

    [Fact]
    public async Task A_viewer_sees_roles_rules_and_members_without_a_button_to_change_them()
    {
        var admin = await host.AdminAsync();
        await AddMqttUserAsync("dash-viewed", "viewed-password");
        (await admin.PostAsJsonAsync("/api/v1/roles", new { name = "dash-readers" })).EnsureSuccessStatusCode();
        (await admin.PostAsJsonAsync("/api/v1/acl-rules",
            new { scope = "role", role = "dash-readers", permission = "allow", action = "subscribe", topicFilter = "dash/news/#" })).EnsureSuccessStatusCode();
        (await admin.PutAsJsonAsync("/api/v1/mqtt-users/dash-viewed/roles", new { roles = new[] { "dash-readers" } })).EnsureSuccessStatusCode();

        await host.ViewerAsync();
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, AdminApiHost.ViewerName, AdminApiHost.ViewerPassword);
        await NavigateAsync(page, "Roles", "Roles and access rules");

        await Expect(page.Locator("tr[data-role=\"dash-readers\"]")).ToContainTextAsync("allow subscribe dash/news/#");
        await Expect(page.Locator("tr[data-user=\"dash-viewed\"]")).ToContainTextAsync("dash-readers");
        await Expect(page.GetByText("You are signed in as a viewer")).ToBeVisibleAsync();
        await Expect(page.Locator("main").GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        await Expect(page.Locator("main input:not([type=search])")).ToHaveCountAsync(0);
    }

    private async Task<IPage> AdminPageAsync()
    {
        var page = await chromium.NewPageAsync(host.BaseUrl);
        await LogInAsync(page, FirstAdmin.UserName, AdminApiHost.AdminPassword);
        await NavigateAsync(page, "Roles", "Roles and access rules");
        return page;
    }

    private async Task AddMqttUserAsync(string userName, string password)
    {
        var admin = await host.AdminAsync();
        (await admin.PostAsJsonAsync("/api/v1/mqtt-users", new { userName, password })).EnsureSuccessStatusCode();
    }

    /// <summary>A mosquitto_sub of the user subscribes to <paramref name="topic"/> and sees the SUBACK line expected; it is stopped then.</summary>
    private async Task SubscribeAsync(string userName, string password, string topic, string expected)
    {
        using var subscriber = DashboardPage.Mqtt(host, "mosquitto_sub", "-i", userName + "-sub", "-u", userName, "-P", password, "-t", topic);
        await subscriber.WaitForLineAsync(line => line.StartsWith("Subscribed (mid: ", StringComparison.Ordinal), Chromium.Timeout);
        Assert.Contains(subscriber.Lines, line => line.Trim() == expected);
    }
}
