using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using IoTHub.Data.Admin.Accounts;
using Microsoft.AspNetCore.Identity;

namespace IoTHub.Web.Auth;

/// <summary>
/// The admin accounts: passwords hashed with ASP.NET Core Identity's PasswordHasher (PBKDF2 with
/// HMAC-SHA512, 100 000 iterations, random salt), verified in the same time whether the account
/// exists or not. Passwords are never logged.
/// </summary>
internal sealed class AdminAccounts
{
    private readonly PasswordHasher<AdminAccount> _hasher = new();
    private readonly IAdminAccountStore _store;
    private readonly TimeProvider _time;

    // Verified against when the account does not exist, so that the answer takes as long either way.
    private readonly Lazy<string> _decoyHash;

    public AdminAccounts(IAdminAccountStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
        _decoyHash = new(() => _hasher.HashPassword(null!, RandomNumberGenerator.GetHexString(32)));
    }

    public Task<IReadOnlyList<AdminAccount>> ListAsync(CancellationToken cancellationToken) => _store.ListAsync(cancellationToken);

    /// <summary>The account when the password is right; null otherwise.</summary>
    public async Task<AdminAccount?> VerifyAsync(string userName, string password, CancellationToken cancellationToken)
    {
        var account = await _store.FindAsync(userName, cancellationToken);
        var result = _hasher.VerifyHashedPassword(account!, account?.PasswordHash ?? _decoyHash.Value, password);
        return account is not null && result != PasswordVerificationResult.Failed ? account : null;
    }

    /// <summary>
    /// Whether a login (token or cookie) still stands for an existing account with the same role: a
    /// login stops working as soon as its account is deleted, changes role or signs out (one indexed read).
    /// A login issued before logins carried the sign-out count counts as issued at none.
    /// </summary>
    public async Task<bool> IsCurrentAsync(ClaimsPrincipal? principal, CancellationToken cancellationToken)
    {
        var name = principal?.FindFirst(AdminAuthentication.NameClaim)?.Value;
        var role = principal?.FindFirst(AdminAuthentication.RoleClaim)?.Value;
        var signOuts = principal?.FindFirst(AdminAuthentication.SignOutsClaim)?.Value ?? "0";
        var account = name is null ? null : await _store.FindAsync(name, cancellationToken);
        return account is not null && account.Role == role && signOuts == account.SignOuts.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Ends every login (token and dashboard cookie) of the principal's account; false when it is no account's (an API key's).</summary>
    public Task<bool> SignOutAsync(ClaimsPrincipal principal, CancellationToken cancellationToken) =>
        principal.FindFirst(AdminAuthentication.SignOutsClaim) is not null && principal.FindFirst(AdminAuthentication.NameClaim)?.Value is { } name
            ? _store.SignOutAsync(name, cancellationToken)
            : Task.FromResult(false);

    /// <summary>False when an account of that name exists.</summary>
    public Task<bool> CreateAsync(string userName, string password, string role, CancellationToken cancellationToken)
    {
        var account = new AdminAccount(userName, string.Empty, role, _time.GetUtcNow());
        return _store.AddAsync(account with { PasswordHash = _hasher.HashPassword(account, password) }, cancellationToken);
    }

    /// <summary>The account with the password and role given (null: unchanged), or null when there is no such account.</summary>
    public async Task<AdminAccount?> UpdateAsync(string userName, string? password, string? role, CancellationToken cancellationToken)
    {
        if (await _store.FindAsync(userName, cancellationToken) is not { } account)
        {
            return null;
        }

        var changed = account with
        {
            PasswordHash = password is null ? account.PasswordHash : _hasher.HashPassword(account, password),
            Role = role ?? account.Role,
        };
        return await _store.UpdateAsync(changed, cancellationToken) ? changed : null;
    }

    public Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken) => _store.DeleteAsync(userName, cancellationToken);
}
