namespace IoTHub.Data.Entities;

/// <summary>
/// An account of the admin API and dashboard (not an MQTT user: those are <see cref="UserEntity"/>).
/// </summary>
public sealed class AdminAccountEntity
{
    public int Id { get; set; }

    public required string UserName { get; set; }

    /// <summary>An ASP.NET Core Identity PBKDF2 hash, with its parameters; never the password.</summary>
    public required string PasswordHash { get; set; }

    /// <summary>"admin" (may change anything) or "viewer" (reads only).</summary>
    public required string Role { get; set; }

    /// <summary>When the account was created, in Unix milliseconds.</summary>
    public long CreatedAt { get; set; }

    /// <summary>How many times the account signed out; logins issued with a lower count no longer work.</summary>
    public int SignOuts { get; set; }
}
