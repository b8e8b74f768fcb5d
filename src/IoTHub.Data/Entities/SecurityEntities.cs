namespace IoTHub.Data.Entities;

// Tables for the security work: the built-in MQTT users (the Database authenticator); roles and ACLs are not used yet.

/// <summary>A built-in MQTT user (table mqtt_users); the admin API's accounts are a table of their own.</summary>
public sealed class UserEntity
{
    public int Id { get; set; }

    public required string UserName { get; set; }

    /// <summary>A PBKDF2 (or stronger) hash with its parameters; never the password.</summary>
    public required string PasswordHash { get; set; }

    public bool Enabled { get; set; } = true;

    /// <summary>The SCRAM-SHA-256 credential (salt, iterations, StoredKey, ServerKey); null until a password is set here.</summary>
    public string? ScramSha256 { get; set; }

    /// <summary>The client ids the user may use (* and ? wildcards, %u for the user name); null for any.</summary>
    public string? ClientIdPattern { get; set; }

    /// <summary>When it was created, in Unix milliseconds.</summary>
    public long CreatedAt { get; set; }

    /// <summary>When it was last changed, in Unix milliseconds.</summary>
    public long ChangedAt { get; set; }
}

public sealed class RoleEntity
{
    public int Id { get; set; }

    public required string Name { get; set; }
}

public sealed class UserRoleEntity
{
    public int UserId { get; set; }

    public int RoleId { get; set; }
}

/// <summary>What an ACL rule governs.</summary>
[Flags]
public enum AclAction : short
{
    None = 0,
    Publish = 1,
    Subscribe = 2,
}

/// <summary>
/// One ACL rule: for a user, a role, a client id, or everyone (all null); the topic filter may use
/// %u (user name) and %c (client id). Higher priority wins.
/// </summary>
public sealed class AclRuleEntity
{
    public int Id { get; set; }

    public int? UserId { get; set; }

    public int? RoleId { get; set; }

    public string? ClientId { get; set; }

    public required string TopicFilter { get; set; }

    public AclAction Action { get; set; }

    public bool Allow { get; set; }

    public int Priority { get; set; }
}
