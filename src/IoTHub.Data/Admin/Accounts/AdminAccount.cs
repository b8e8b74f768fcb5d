namespace IoTHub.Data.Admin.Accounts;

/// <summary>An account of the admin API and dashboard as stored: the password only as its hash.</summary>
/// <param name="UserName">The name it logs in with.</param>
/// <param name="PasswordHash">An ASP.NET Core Identity PBKDF2 hash, with its parameters; never the password.</param>
/// <param name="Role">"admin" (may change anything) or "viewer" (reads only).</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="SignOuts">How many times it signed out: a login (token or dashboard cookie) carries the count it was issued with and ends once the count moves on.</param>
public sealed record AdminAccount(string UserName, string PasswordHash, string Role, DateTimeOffset CreatedAt, int SignOuts = 0);
