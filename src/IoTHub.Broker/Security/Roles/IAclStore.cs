using IoTHub.Broker.Security.Authorization;

namespace IoTHub.Broker.Security.Roles;

/// <summary>What a change to an <see cref="IAclStore"/> came to.</summary>
public enum AclStoreResult
{
    Done,

    /// <summary>The role or rule to change is not there.</summary>
    NotFound,

    /// <summary>The MQTT user the change names does not exist.</summary>
    NoSuchUser,

    /// <summary>A role the change names does not exist.</summary>
    NoSuchRole,

    /// <summary>A role of the new name exists.</summary>
    Exists,
}

/// <summary>
/// Where roles, the roles each MQTT user holds and stored access rules are kept: the broker's database (SQLite,
/// PostgreSQL), or memory beside the <see cref="Users.MemoryMqttUserStore"/> for the memory and file storage providers.
/// Memberships and a user's rules belong to an existing user and go with it when it is deleted; a role's rules and
/// memberships go with the role. Names are compared exactly (ordinal); times are kept to the millisecond.
/// </summary>
public interface IAclStore
{
    /// <summary>Every role, ordered by name (ordinal).</summary>
    Task<IReadOnlyList<Role>> ListRolesAsync(CancellationToken cancellationToken);

    Task<Role?> FindRoleAsync(string name, CancellationToken cancellationToken);

    /// <summary>False when a role of that name exists (it is left as it is).</summary>
    Task<bool> AddRoleAsync(Role role, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces role <paramref name="name"/> by <paramref name="role"/>, keeping its creation time; another name renames it
    /// and its rules and members follow. <see cref="AclStoreResult.NotFound"/>, or <see cref="AclStoreResult.Exists"/> when the new name is taken.
    /// </summary>
    Task<AclStoreResult> UpdateRoleAsync(string name, Role role, CancellationToken cancellationToken);

    /// <summary>Deletes the role with its rules and memberships; false when there is none.</summary>
    Task<bool> DeleteRoleAsync(string name, CancellationToken cancellationToken);

    /// <summary>The roles of an MQTT user, ordered by name (ordinal); null when there is no such user.</summary>
    Task<IReadOnlyList<string>?> FindUserRolesAsync(string userName, CancellationToken cancellationToken);

    /// <summary>Makes <paramref name="roles"/> the user's roles, all or nothing (<see cref="AclStoreResult.NoSuchUser"/>, <see cref="AclStoreResult.NoSuchRole"/>).</summary>
    Task<AclStoreResult> SetUserRolesAsync(string userName, IReadOnlySet<string> roles, CancellationToken cancellationToken);

    /// <summary>Every stored rule, ordered by id.</summary>
    Task<IReadOnlyList<StoredAclRule>> ListRulesAsync(CancellationToken cancellationToken);

    Task<StoredAclRule?> FindRuleAsync(int id, CancellationToken cancellationToken);

    /// <summary>Adds the rule under a new id (its own is ignored); the added rule, or why not (<see cref="AclStoreResult.NoSuchUser"/>, <see cref="AclStoreResult.NoSuchRole"/>).</summary>
    Task<(AclStoreResult Result, StoredAclRule? Added)> AddRuleAsync(StoredAclRule rule, CancellationToken cancellationToken);

    /// <summary>Replaces the rule of the same id (<see cref="AclStoreResult.NotFound"/>, <see cref="AclStoreResult.NoSuchUser"/>, <see cref="AclStoreResult.NoSuchRole"/>).</summary>
    Task<AclStoreResult> UpdateRuleAsync(StoredAclRule rule, CancellationToken cancellationToken);

    /// <summary>False when there is no rule of that id.</summary>
    Task<bool> DeleteRuleAsync(int id, CancellationToken cancellationToken);

    /// <summary>What the authorizer needs: every rule, the roles of every user that holds any, and the superusers.</summary>
    Task<(IReadOnlyList<AclRule> Rules, AclUsers Users)> LoadAsync(CancellationToken cancellationToken);
}
