namespace IoTHub.Data.Entities;

// Tables for the security work: the built-in MQTT users (the Database authenticator), their roles and the stored access rules.

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

    /// <summary>Its clients may publish and subscribe to anything, whatever the access rules say.</summary>
    public bool Superuser { get; set; }
}

/// <summary>A role (table roles): a name that holds access rules, given to MQTT users.</summary>
public sealed class RoleEntity
{
    public int Id { get; set; }

    public required string Name { get; set; }

    public string? Description { get; set; }

    /// <summary>When it was created, in Unix milliseconds.</summary>
    public long CreatedAt { get; set; }

    /// <summary>When it was last changed, in Unix milliseconds.</summary>
    public long ChangedAt { get; set; }
}

/// <summary>An MQTT user holds a role (table user_roles); deleted with either.</summary>
public sealed class UserRoleEntity
{
    public int UserId { get; set; }

    public int RoleId { get; set; }

    public UserEntity? User { get; set; }

    public RoleEntity? Role { get; set; }
}

/// <summary>
/// A stored access rule (table acl_rules): for an MQTT user (<see cref="UserId"/>), a role (<see cref="RoleId"/>), or
/// everyone (neither); deleted with its user or role. Allow or deny <see cref="Actions"/> on <see cref="TopicFilter"/>,
/// where, with <see cref="Pattern"/>, %u, %c and ${cert_cn} stand for the client's values.
/// </summary>
public sealed class AclRuleEntity
{
    public int Id { get; set; }

    public int? UserId { get; set; }

    public int? RoleId { get; set; }

    public required string TopicFilter { get; set; }

    /// <summary>Publish 1, subscribe 2, both 3 (<see cref="Broker.Security.Authorization.AclAction"/>).</summary>
    public Broker.Security.Authorization.AclAction Actions { get; set; }

    public bool Allow { get; set; }

    public bool Pattern { get; set; }

    public UserEntity? User { get; set; }

    public RoleEntity? Role { get; set; }
}
