using System.Text;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Roles;
using IoTHub.Mqtt;
using IoTHub.Web.Api;
using IoTHub.Web.Api.AclRules;

namespace IoTHub.Web.Security.Roles;

/// <summary>What a change to roles, memberships or rules came to.</summary>
internal enum AccessOutcome
{
    Done,

    /// <summary>The request is not valid: the errors say why.</summary>
    Invalid,

    /// <summary>The role, user or rule it names is not there: the problem says which.</summary>
    NotFound,

    /// <summary>A role of that name exists.</summary>
    Exists,
}

/// <summary>The outcome of a change, what it made, and, for <see cref="AccessOutcome.NotFound"/> and <see cref="AccessOutcome.Exists"/>, what was missing or taken.</summary>
internal sealed record AccessChange<T>(AccessOutcome Outcome, T? Value = default, string? Problem = null)
{
    public static AccessChange<T> Invalid { get; } = new(AccessOutcome.Invalid);
}

/// <summary>
/// The roles, the roles MQTT users hold and the stored access rules as the API changes them: checked, stored, and in
/// force before the call returns. Each change that can alter a decision reloads the <see cref="StoredAclSource"/>: the
/// authorizer compiles the rules again, every connection's cached decisions become stale, and each connected client's
/// subscriptions the new rules no longer allow are removed.
/// </summary>
internal sealed class MqttAccessControl(IAclStore store, StoredAclSource access, TimeProvider time)
{
    public const int MaximumDescriptionLength = 1024;

    public Task<IReadOnlyList<Role>> ListRolesAsync(CancellationToken cancellationToken) => store.ListRolesAsync(cancellationToken);

    public Task<Role?> FindRoleAsync(string name, CancellationToken cancellationToken) => store.FindRoleAsync(name, cancellationToken);

    public async Task<AccessChange<Role>> CreateRoleAsync(string? name, string? description, ValidationErrors errors, CancellationToken cancellationToken)
    {
        errors.CheckName("name", name);
        CheckDescription(description, errors);
        if (errors.Any)
        {
            return AccessChange<Role>.Invalid;
        }

        var now = time.GetUtcNow();
        var role = new Role(name!, string.IsNullOrEmpty(description) ? null : description, now, now);
        return await store.AddRoleAsync(role, cancellationToken)
            ? new(AccessOutcome.Done, role)
            : new(AccessOutcome.Exists, Problem: $"A role named '{name}' exists.");
    }

    /// <summary>Renames and/or describes a role; absent stays as it is, an empty description removes it. Its rules and members follow a rename.</summary>
    public async Task<AccessChange<Role>> UpdateRoleAsync(string name, string? newName, string? description, ValidationErrors errors,
        CancellationToken cancellationToken)
    {
        if (newName is null && description is null)
        {
            errors.Add("body", "must set name or description.");
        }

        if (newName is not null)
        {
            errors.CheckName("name", newName);
        }

        CheckDescription(description, errors);
        if (errors.Any)
        {
            return AccessChange<Role>.Invalid;
        }

        if (await store.FindRoleAsync(name, cancellationToken) is not { } role)
        {
            return new(AccessOutcome.NotFound, Problem: NoRole(name));
        }

        var changed = role with
        {
            Name = newName ?? role.Name,
            Description = description switch { null => role.Description, "" => null, var replaced => replaced },
            ChangedAt = time.GetUtcNow(),
        };
        switch (await store.UpdateRoleAsync(name, changed, cancellationToken))
        {
            case AclStoreResult.NotFound:
                return new(AccessOutcome.NotFound, Problem: NoRole(name));
            case AclStoreResult.Exists:
                return new(AccessOutcome.Exists, Problem: $"A role named '{changed.Name}' exists.");
        }

        if (changed.Name != name)
        {
            await access.LoadAsync();
        }

        return new(AccessOutcome.Done, changed);
    }

    /// <summary>Deletes a role with its rules; its members lose it at once.</summary>
    public async Task<bool> DeleteRoleAsync(string name, CancellationToken cancellationToken)
    {
        if (!await store.DeleteRoleAsync(name, cancellationToken))
        {
            return false;
        }

        await access.LoadAsync();
        return true;
    }

    /// <summary>The roles of each user that holds one, by user name, as in force now (read without a query: for listing them all).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> RolesInForce => access.Users.Roles;

    /// <summary>How many users hold each role, as in force now (a role no one holds is absent).</summary>
    public IReadOnlyDictionary<string, int> CountMembers()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var roles in RolesInForce.Values)
        {
            foreach (var role in roles)
            {
                counts[role] = counts.GetValueOrDefault(role) + 1;
            }
        }

        return counts;
    }

    /// <summary>The roles of a user, by name; null when there is no such MQTT user.</summary>
    public Task<IReadOnlyList<string>?> FindUserRolesAsync(string userName, CancellationToken cancellationToken) =>
        store.FindUserRolesAsync(userName, cancellationToken);

    /// <summary>Makes <paramref name="roles"/> (each named once or more) the user's roles, in force on its connected clients at once.</summary>
    public async Task<AccessChange<IReadOnlyList<string>>> SetUserRolesAsync(string userName, IReadOnlyList<string?>? roles, ValidationErrors errors,
        CancellationToken cancellationToken)
    {
        if (roles is null)
        {
            errors.Add("roles", "is required: the names of the roles the user holds ([] for none).");
        }
        else if (roles.Any(static r => r is null))
        {
            errors.Add("roles", "must hold role names, not null.");
        }

        if (errors.Any)
        {
            return AccessChange<IReadOnlyList<string>>.Invalid;
        }

        var wanted = roles!.Select(static r => r!).ToHashSet(StringComparer.Ordinal);
        switch (await store.SetUserRolesAsync(userName, wanted, cancellationToken))
        {
            case AclStoreResult.NoSuchUser:
                return new(AccessOutcome.NotFound, Problem: NoUser(userName));
            case AclStoreResult.NoSuchRole:
                var missing = new List<string>();
                foreach (var role in wanted.Order(StringComparer.Ordinal))
                {
                    if (await store.FindRoleAsync(role, cancellationToken) is null)
                    {
                        missing.Add($"'{role}'");
                    }
                }

                return new(AccessOutcome.NotFound, Problem: $"There is no role {string.Join(", ", missing)}.");
        }

        await access.LoadAsync();
        return new(AccessOutcome.Done, [.. wanted.Order(StringComparer.Ordinal)]);
    }

    public Task<IReadOnlyList<StoredAclRule>> ListRulesAsync(CancellationToken cancellationToken) => store.ListRulesAsync(cancellationToken);

    public Task<StoredAclRule?> FindRuleAsync(int id, CancellationToken cancellationToken) => store.FindRuleAsync(id, cancellationToken);

    public async Task<AccessChange<StoredAclRule>> CreateRuleAsync(AclRuleRequest request, ValidationErrors errors, CancellationToken cancellationToken)
    {
        if (Read(request, id: 0, errors) is not { } rule)
        {
            return AccessChange<StoredAclRule>.Invalid;
        }

        var (result, added) = await store.AddRuleAsync(rule, cancellationToken);
        return await AfterRuleChangeAsync(result, added, rule);
    }

    /// <summary>Replaces rule <paramref name="id"/> by the request, a whole rule as for <see cref="CreateRuleAsync"/>.</summary>
    public async Task<AccessChange<StoredAclRule>> ReplaceRuleAsync(int id, AclRuleRequest request, ValidationErrors errors, CancellationToken cancellationToken)
    {
        if (Read(request, id, errors) is not { } rule)
        {
            return AccessChange<StoredAclRule>.Invalid;
        }

        return await AfterRuleChangeAsync(await store.UpdateRuleAsync(rule, cancellationToken), rule, rule);
    }

    public async Task<bool> DeleteRuleAsync(int id, CancellationToken cancellationToken)
    {
        if (!await store.DeleteRuleAsync(id, cancellationToken))
        {
            return false;
        }

        await access.LoadAsync();
        return true;
    }

    /// <summary>A rule's id in problems: "There is no access rule 12.".</summary>
    public static string NoRule(int id) => $"There is no access rule {id}.";

    public static string NoRole(string name) => $"There is no role '{name}'.";

    public static string NoUser(string userName) => $"There is no MQTT user '{userName}'.";

    private async Task<AccessChange<StoredAclRule>> AfterRuleChangeAsync(AclStoreResult result, StoredAclRule? stored, StoredAclRule rule)
    {
        switch (result)
        {
            case AclStoreResult.NotFound:
                return new(AccessOutcome.NotFound, Problem: NoRule(rule.Id));
            case AclStoreResult.NoSuchUser:
                return new(AccessOutcome.NotFound, Problem: NoUser(rule.UserName!));
            case AclStoreResult.NoSuchRole:
                return new(AccessOutcome.NotFound, Problem: NoRole(rule.RoleName!));
        }

        await access.LoadAsync();
        return new(AccessOutcome.Done, stored);
    }

    /// <summary>The rule a request describes, each field checked; null when any is wrong (the errors say which).</summary>
    private static StoredAclRule? Read(AclRuleRequest request, int id, ValidationErrors errors)
    {
        var scope = AclRuleInfo.ParseScope(request.Scope);
        if (scope is null)
        {
            errors.Add("scope", "must be user, role or everyone.");
        }

        CheckOwner("userName", request.UserName, scope, AclScope.User, errors);
        CheckOwner("role", request.Role, scope, AclScope.Role, errors);
        var allow = request.Permission switch { "allow" => true, "deny" => false, _ => (bool?)null };
        if (allow is null)
        {
            errors.Add("permission", "must be allow or deny.");
        }

        var actions = AclRuleInfo.ParseAction(request.Action);
        if (actions is null)
        {
            errors.Add("action", "must be publish, subscribe or both.");
        }

        var filter = request.TopicFilter;
        if (string.IsNullOrEmpty(filter))
        {
            errors.Add("topicFilter", "is required.");
        }
        else if (filter.StartsWith(TopicRules.SharePrefix, StringComparison.Ordinal))
        {
            errors.Add("topicFilter", $"must not start with {TopicRules.SharePrefix}: a shared subscription is checked by its filter after {TopicRules.SharePrefix}{{group}}/.");
        }
        else if (!TopicRules.IsValidTopicFilter(filter) || Encoding.UTF8.GetByteCount(filter) > TopicRules.MaxLength)
        {
            errors.Add("topicFilter", "is not a valid topic filter ('+' and '#' each a whole level, '#' last; at most 65 535 bytes).");
        }

        if (errors.Any)
        {
            return null;
        }

        return new StoredAclRule(id, scope!.Value, scope == AclScope.User ? request.UserName : null, scope == AclScope.Role ? request.Role : null, allow!.Value,
            actions!.Value, filter!, request.Pattern ?? StoredAclRule.HoldsPlaceholders(filter!));
    }

    /// <summary>The user name or role of a rule: a name where the scope needs it, absent elsewhere.</summary>
    private static void CheckOwner(string field, string? value, AclScope? scope, AclScope owner, ValidationErrors errors)
    {
        if (scope == owner)
        {
            errors.CheckName(field, value);
        }
        else if (value is not null && scope is not null)
        {
            errors.Add(field, $"must be absent unless scope is {AclRuleInfo.ScopeName(owner)}.");
        }
    }

    private static void CheckDescription(string? description, ValidationErrors errors)
    {
        if (description is { Length: > MaximumDescriptionLength })
        {
            errors.Add("description", $"must be at most {MaximumDescriptionLength} characters.");
        }
    }
}
