using IoTHub.Web.Api.Accounts;
using IoTHub.Web.Api.ApiKeys;
using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Dashboard;

/// <summary>The Accounts and API keys pages' changes, run by the API's own handlers (the last admin stays an admin there).</summary>
internal sealed partial class DashboardActions
{
    public async Task<ActionOutcome> AddAccountAsync(string? userName, string? password, string? role)
    {
        return await RunAsAdminAsync(Api("POST", "/accounts"), async () =>
            FromApi(await AccountsApi.Create(accounts, new CreateAccountRequest(userName, password, role), time, CancellationToken.None),
                $"Added account '{userName}' ({role})."));
    }

    public async Task<ActionOutcome> SetAccountRoleAsync(string userName, string role)
    {
        return await RunAsAdminAsync(Api("PUT", $"/accounts/{userName}"), async () =>
            FromApi(await AccountsApi.Update(accounts, userName, new UpdateAccountRequest(null, role), CancellationToken.None),
                $"'{userName}' is now {(role == AdminRoles.Admin ? "an admin" : "a viewer")}; its logins of the old role ended."));
    }

    public async Task<ActionOutcome> ResetAccountPasswordAsync(string userName, string? password)
    {
        return await RunAsAdminAsync(Api("PUT", $"/accounts/{userName}"), async () =>
            FromApi(await AccountsApi.Update(accounts, userName, new UpdateAccountRequest(password ?? string.Empty, null), CancellationToken.None),
                $"Set a new password for '{userName}'."));
    }

    /// <summary>Deletes an account; one already gone counts as deleted.</summary>
    public async Task<ActionOutcome> DeleteAccountAsync(string userName)
    {
        return await RunAsAdminAsync(Api("DELETE", $"/accounts/{userName}"), async () =>
            AlreadyDone(FromApi(await AccountsApi.Delete(accounts, userName, CancellationToken.None), $"Deleted account '{userName}'; its logins ended."),
                $"Account '{userName}' was already deleted."));
    }

    /// <summary>Creates an API key; the key is in the outcome's <see cref="ActionOutcome.Secret"/>, this once.</summary>
    public async Task<ActionOutcome> CreateApiKeyAsync(string? name, string? role)
    {
        var user = (await authentication.GetAuthenticationStateAsync()).User;
        string? secret = null;
        var outcome = await RunAsAdminAsync(Api("POST", "/api-keys"), async () =>
        {
            var result = await ApiKeysApi.Create(apiKeys, new CreateApiKeyRequest(name, role), user, CancellationToken.None);
            secret = Unwrap(result) is Created<CreatedApiKey> created ? created.Value!.Key : null;
            return FromApi(result, $"Created API key '{name}' ({role}). Copy the key now: it is not shown again.");
        });
        return outcome with { Secret = outcome.Succeeded ? secret : null };
    }

    /// <summary>Revokes an API key; one already revoked counts as revoked.</summary>
    public async Task<ActionOutcome> RevokeApiKeyAsync(int id, string name)
    {
        return await RunAsAdminAsync(Api("DELETE", $"/api-keys/{id}"), async () =>
            AlreadyDone(FromApi(await ApiKeysApi.Revoke(apiKeys, id, CancellationToken.None), $"Revoked API key '{name}'; it stopped working."),
                $"API key '{name}' was already revoked."));
    }
}
