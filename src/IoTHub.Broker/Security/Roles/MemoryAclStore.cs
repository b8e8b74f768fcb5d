using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Users;

namespace IoTHub.Broker.Security.Roles;

/// <summary>
/// Roles, memberships and rules for as long as the process runs, beside the users of a <see cref="MemoryMqttUserStore"/>:
/// the store of the memory and file storage providers. One lock keeps each change whole, as a transaction does in a
/// database; a user's memberships and rules go when the user store deletes it.
/// </summary>
public sealed class MemoryAclStore : IAclStore
{
    private readonly MemoryMqttUserStore _users;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Role> _roles = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<string>> _memberships = new(StringComparer.Ordinal);
    private readonly SortedDictionary<int, StoredAclRule> _rules = [];
    private int _lastId;

    public MemoryAclStore(MemoryMqttUserStore users)
    {
        _users = users;
        users.Deleted += ForgetUser;
    }

    public Task<IReadOnlyList<Role>> ListRolesAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<Role>>([.. _roles.Values.OrderBy(static r => r.Name, StringComparer.Ordinal)]);
        }
    }

    public Task<Role?> FindRoleAsync(string name, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_roles.GetValueOrDefault(name));
        }
    }

    public Task<bool> AddRoleAsync(Role role, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_roles.TryAdd(role.Name, Truncated(role)));
        }
    }

    public Task<AclStoreResult> UpdateRoleAsync(string name, Role role, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_roles.TryGetValue(name, out var stored))
            {
                return Task.FromResult(AclStoreResult.NotFound);
            }

            var renamed = !string.Equals(name, role.Name, StringComparison.Ordinal);
            if (renamed && _roles.ContainsKey(role.Name))
            {
                return Task.FromResult(AclStoreResult.Exists);
            }

            _roles.Remove(name);
            _roles[role.Name] = Truncated(role with { CreatedAt = stored.CreatedAt });
            if (renamed)
            {
                foreach (var held in _memberships.Values)
                {
                    if (held.Remove(name))
                    {
                        held.Add(role.Name);
                    }
                }

                foreach (var rule in _rules.Values.Where(r => r.RoleName == name).ToList())
                {
                    _rules[rule.Id] = rule with { RoleName = role.Name };
                }
            }

            return Task.FromResult(AclStoreResult.Done);
        }
    }

    public Task<bool> DeleteRoleAsync(string name, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_roles.Remove(name))
            {
                return Task.FromResult(false);
            }

            foreach (var held in _memberships.Values)
            {
                held.Remove(name);
            }

            RemoveRules(r => r.RoleName == name);
            return Task.FromResult(true);
        }
    }

    public Task<IReadOnlyList<string>?> FindUserRolesAsync(string userName, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<string>?>(!_users.Contains(userName) ? null
                : _memberships.TryGetValue(userName, out var held) ? [.. held]
                : []);
        }
    }

    public Task<AclStoreResult> SetUserRolesAsync(string userName, IReadOnlySet<string> roles, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var result = Check(AclScope.User, userName, null);
            if (result == AclStoreResult.Done && !roles.All(_roles.ContainsKey))
            {
                result = AclStoreResult.NoSuchRole;
            }

            if (result == AclStoreResult.Done)
            {
                _memberships[userName] = new SortedSet<string>(roles, StringComparer.Ordinal);
            }

            return Task.FromResult(result);
        }
    }

    public Task<IReadOnlyList<StoredAclRule>> ListRulesAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<StoredAclRule>>([.. _rules.Values]);
        }
    }

    public Task<StoredAclRule?> FindRuleAsync(int id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_rules.GetValueOrDefault(id));
        }
    }

    public Task<(AclStoreResult Result, StoredAclRule? Added)> AddRuleAsync(StoredAclRule rule, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var result = Check(rule.Scope, rule.UserName, rule.RoleName);
            if (result != AclStoreResult.Done)
            {
                return Task.FromResult<(AclStoreResult, StoredAclRule?)>((result, null));
            }

            var added = rule with { Id = ++_lastId };
            _rules[added.Id] = added;
            return Task.FromResult<(AclStoreResult, StoredAclRule?)>((AclStoreResult.Done, added));
        }
    }

    public Task<AclStoreResult> UpdateRuleAsync(StoredAclRule rule, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var result = !_rules.ContainsKey(rule.Id) ? AclStoreResult.NotFound : Check(rule.Scope, rule.UserName, rule.RoleName);
            if (result == AclStoreResult.Done)
            {
                _rules[rule.Id] = rule;
            }

            return Task.FromResult(result);
        }
    }

    public Task<bool> DeleteRuleAsync(int id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_rules.Remove(id));
        }
    }

    public Task<(IReadOnlyList<AclRule> Rules, AclUsers Users)> LoadAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<AclRule> rules = [.. _rules.Values.Select(static r => r.ToRule())];
            var roles = _memberships.Where(static m => m.Value.Count > 0).ToDictionary(static m => m.Key, static m => (IReadOnlyList<string>)[.. m.Value],
                StringComparer.Ordinal);
            return Task.FromResult((rules, new AclUsers(roles, _users.Superusers().ToHashSet(StringComparer.Ordinal))));
        }
    }

    /// <summary>Whether the user or role a change names exists.</summary>
    private AclStoreResult Check(AclScope scope, string? userName, string? roleName) => scope switch
    {
        AclScope.User when !_users.Contains(userName!) => AclStoreResult.NoSuchUser,
        AclScope.Role when !_roles.ContainsKey(roleName!) => AclStoreResult.NoSuchRole,
        _ => AclStoreResult.Done,
    };

    /// <summary>
    /// After the user store deleted a user. A change that found the user before it went holds the lock until it is done,
    /// so whatever it added is removed here.
    /// </summary>
    private void ForgetUser(string userName)
    {
        lock (_lock)
        {
            _memberships.Remove(userName);
            RemoveRules(r => r.UserName == userName);
        }
    }

    private void RemoveRules(Func<StoredAclRule, bool> match)
    {
        foreach (var id in _rules.Values.Where(match).Select(static r => r.Id).ToList())
        {
            _rules.Remove(id);
        }
    }

    /// <summary>To the millisecond, as the databases keep them.</summary>
    private static Role Truncated(Role role) =>
        role with { CreatedAt = MemoryMqttUserStore.ToMilliseconds(role.CreatedAt), ChangedAt = MemoryMqttUserStore.ToMilliseconds(role.ChangedAt) };
}
