using System.Data;
using System.Linq.Expressions;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Roles;
using IoTHub.Data.Admin;
using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Roles;

/// <summary>
/// The roles, user_roles and acl_rules tables, a short-lived context per call. Deleting a user or a role deletes its
/// memberships and rules through the foreign keys.
/// </summary>
internal sealed class RelationalAclStore(IDbContextFactory<BrokerDbContext> contexts) : IAclStore
{
    /// <summary>Tries of a change that a concurrent deletion made fail.</summary>
    private const int Attempts = 3;

    /// <summary>A rule with the names of its user and role (left joins: each may be absent).</summary>
    private static readonly Expression<Func<AclRuleEntity, RuleRow>> WithNames = static r =>
        new RuleRow(r.Id, r.User == null ? null : r.User.UserName, r.Role == null ? null : r.Role.Name, r.Allow, r.Actions, r.TopicFilter, r.Pattern);

    public Task<IReadOnlyList<Role>> ListRolesAsync(CancellationToken cancellationToken) =>
        contexts.RunAsync<IReadOnlyList<Role>>(async context =>
            // Ordered here: a PostgreSQL collation may not order names the way the memory store does.
            [.. (await context.Roles.AsNoTracking().ToListAsync(cancellationToken).ConfigureAwait(false)).Select(ToRole)
                .OrderBy(static r => r.Name, StringComparer.Ordinal)]);

    public Task<Role?> FindRoleAsync(string name, CancellationToken cancellationToken) =>
        contexts.FindAsync(static c => c.Roles, r => r.Name == name, ToRole, cancellationToken);

    public Task<bool> AddRoleAsync(Role role, CancellationToken cancellationToken) =>
        contexts.AddUniqueAsync(static c => c.Roles, r => r.Name == role.Name, new RoleEntity
        {
            Name = role.Name,
            Description = role.Description,
            CreatedAt = role.CreatedAt.ToUnixTimeMilliseconds(),
            ChangedAt = role.ChangedAt.ToUnixTimeMilliseconds(),
        }, cancellationToken);

    public Task<AclStoreResult> UpdateRoleAsync(string name, Role role, CancellationToken cancellationToken) =>
        contexts.RunAsync(async context =>
        {
            if (await context.Roles.SingleOrDefaultAsync(r => r.Name == name, cancellationToken).ConfigureAwait(false) is not { } stored)
            {
                return AclStoreResult.NotFound;
            }

            if (role.Name != name && await context.Roles.AnyAsync(r => r.Name == role.Name, cancellationToken).ConfigureAwait(false))
            {
                return AclStoreResult.Exists;
            }

            stored.Name = role.Name;
            stored.Description = role.Description;
            stored.ChangedAt = role.ChangedAt.ToUnixTimeMilliseconds();
            try
            {
                await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                return AclStoreResult.Done;
            }
            catch (DbUpdateConcurrencyException)
            {
                return AclStoreResult.NotFound; // deleted since it was read
            }
            catch (DbUpdateException)
            {
                return AclStoreResult.Exists; // the new name was taken since the check (the unique index refused it)
            }
        });

    public Task<bool> DeleteRoleAsync(string name, CancellationToken cancellationToken) =>
        contexts.DeleteAsync(static c => c.Roles, r => r.Name == name, cancellationToken);

    public Task<IReadOnlyList<string>?> FindUserRolesAsync(string userName, CancellationToken cancellationToken) =>
        contexts.RunAsync<IReadOnlyList<string>?>(async context =>
        {
            if (await UserIdAsync(context, userName, cancellationToken).ConfigureAwait(false) is not { } userId)
            {
                return null;
            }

            var names = await context.UserRoles.Where(m => m.UserId == userId).Select(static m => m.Role!.Name).ToListAsync(cancellationToken).ConfigureAwait(false);
            return [.. names.Order(StringComparer.Ordinal)];
        });

    public async Task<AclStoreResult> SetUserRolesAsync(string userName, IReadOnlySet<string> roles, CancellationToken cancellationToken)
    {
        string[] names = [.. roles];
        for (var attempt = 1; ; attempt++)
        {
            await using var context = contexts.CreateDbContext();
            await using var transaction = await context.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

            // A write to the user's row first, one that changes nothing: it locks the row (PostgreSQL) or the database
            // (SQLite) until the commit, so changes of one user's roles run one after the other instead of colliding.
            var users = context.MqttUsers.Where(u => u.UserName == userName);
            if (await users.ExecuteUpdateAsync(static set => set.SetProperty(static u => u.ChangedAt, static u => u.ChangedAt), cancellationToken)
                .ConfigureAwait(false) == 0
                || await UserIdAsync(context, userName, cancellationToken).ConfigureAwait(false) is not { } userId)
            {
                return AclStoreResult.NoSuchUser;
            }

            var roleIds = await context.Roles.Where(r => names.Contains(r.Name)).Select(static r => r.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
            if (roleIds.Count != names.Length)
            {
                return AclStoreResult.NoSuchRole;
            }

            await context.UserRoles.Where(m => m.UserId == userId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            context.UserRoles.AddRange(roleIds.Select(roleId => new UserRoleEntity { UserId = userId, RoleId = roleId }));
            try
            {
                await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return AclStoreResult.Done;
            }
            catch (DbUpdateException) when (attempt < Attempts)
            {
                // A role was deleted since it was found (the foreign key refused it): read again.
            }
        }
    }

    public Task<IReadOnlyList<StoredAclRule>> ListRulesAsync(CancellationToken cancellationToken) =>
        contexts.RunAsync<IReadOnlyList<StoredAclRule>>(async context =>
            [.. (await context.AclRules.AsNoTracking().OrderBy(static r => r.Id).Select(WithNames).ToListAsync(cancellationToken).ConfigureAwait(false))
                .Select(static r => r.ToStored())]);

    public Task<StoredAclRule?> FindRuleAsync(int id, CancellationToken cancellationToken) =>
        contexts.RunAsync(async context =>
            (await context.AclRules.AsNoTracking().Where(r => r.Id == id).Select(WithNames).SingleOrDefaultAsync(cancellationToken).ConfigureAwait(false))?.ToStored());

    public Task<(AclStoreResult Result, StoredAclRule? Added)> AddRuleAsync(StoredAclRule rule, CancellationToken cancellationToken) =>
        contexts.RunAsync<(AclStoreResult, StoredAclRule?)>(async context =>
        {
            var entity = new AclRuleEntity { TopicFilter = rule.Filter };
            var result = await FillAsync(context, entity, rule, cancellationToken).ConfigureAwait(false);
            if (result != AclStoreResult.Done)
            {
                return (result, null);
            }

            context.AclRules.Add(entity);
            result = await SaveAsync(context, rule, cancellationToken).ConfigureAwait(false);
            return result == AclStoreResult.Done ? (result, rule with { Id = entity.Id }) : (result, null);
        });

    public Task<AclStoreResult> UpdateRuleAsync(StoredAclRule rule, CancellationToken cancellationToken) =>
        contexts.RunAsync(async context =>
        {
            if (await context.AclRules.SingleOrDefaultAsync(r => r.Id == rule.Id, cancellationToken).ConfigureAwait(false) is not { } entity)
            {
                return AclStoreResult.NotFound;
            }

            var result = await FillAsync(context, entity, rule, cancellationToken).ConfigureAwait(false);
            return result == AclStoreResult.Done ? await SaveAsync(context, rule, cancellationToken).ConfigureAwait(false) : result;
        });

    public Task<bool> DeleteRuleAsync(int id, CancellationToken cancellationToken) =>
        contexts.DeleteAsync(static c => c.AclRules, r => r.Id == id, cancellationToken);

    public Task<(IReadOnlyList<AclRule> Rules, AclUsers Users)> LoadAsync(CancellationToken cancellationToken) =>
        contexts.RunAsync<(IReadOnlyList<AclRule>, AclUsers)>(async context =>
        {
            // One snapshot for the three reads: rules, memberships and superusers as of one moment.
            await using var transaction = await context.Database.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
            var rules = await context.AclRules.AsNoTracking().OrderBy(static r => r.Id).Select(WithNames).ToListAsync(cancellationToken).ConfigureAwait(false);
            var memberships = await context.UserRoles.AsNoTracking().Select(static m => new { m.User!.UserName, m.Role!.Name })
                .ToListAsync(cancellationToken).ConfigureAwait(false);
            var superusers = await context.MqttUsers.AsNoTracking().Where(static u => u.Superuser).Select(static u => u.UserName)
                .ToListAsync(cancellationToken).ConfigureAwait(false);
            var roles = memberships.GroupBy(static m => m.UserName, StringComparer.Ordinal)
                .ToDictionary(static g => g.Key, static g => (IReadOnlyList<string>)[.. g.Select(static m => m.Name)], StringComparer.Ordinal);
            return ([.. rules.Select(static r => r.ToStored().ToRule())], new AclUsers(roles, superusers.ToHashSet(StringComparer.Ordinal)));
        });

    private static Task<int?> UserIdAsync(BrokerDbContext context, string userName, CancellationToken cancellationToken) =>
        context.MqttUsers.Where(u => u.UserName == userName).Select(static u => (int?)u.Id).SingleOrDefaultAsync(cancellationToken);

    /// <summary>Sets the entity's fields from the rule, its user and role by id; whether they exist.</summary>
    private static async Task<AclStoreResult> FillAsync(BrokerDbContext context, AclRuleEntity entity, StoredAclRule rule, CancellationToken cancellationToken)
    {
        int? userId = null, roleId = null;
        if (rule.Scope == AclScope.User && (userId = await UserIdAsync(context, rule.UserName!, cancellationToken).ConfigureAwait(false)) is null)
        {
            return AclStoreResult.NoSuchUser;
        }

        if (rule.Scope == AclScope.Role
            && (roleId = await context.Roles.Where(r => r.Name == rule.RoleName).Select(static r => (int?)r.Id).SingleOrDefaultAsync(cancellationToken)
                .ConfigureAwait(false)) is null)
        {
            return AclStoreResult.NoSuchRole;
        }

        entity.UserId = userId;
        entity.RoleId = roleId;
        entity.TopicFilter = rule.Filter;
        entity.Actions = rule.Actions;
        entity.Allow = rule.Allow;
        entity.Pattern = rule.Pattern;
        return AclStoreResult.Done;
    }

    private static async Task<AclStoreResult> SaveAsync(BrokerDbContext context, StoredAclRule rule, CancellationToken cancellationToken)
    {
        try
        {
            await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return AclStoreResult.Done;
        }
        catch (DbUpdateConcurrencyException)
        {
            return AclStoreResult.NotFound; // the rule was deleted since it was read
        }
        catch (DbUpdateException) when (rule.Scope != AclScope.Everyone)
        {
            // The foreign key refused it: the user or role was deleted since it was found.
            return rule.Scope == AclScope.User ? AclStoreResult.NoSuchUser : AclStoreResult.NoSuchRole;
        }
    }

    private static Role ToRole(RoleEntity e) =>
        new(e.Name, e.Description, DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt), DateTimeOffset.FromUnixTimeMilliseconds(e.ChangedAt));

    private sealed record RuleRow(int Id, string? UserName, string? RoleName, bool Allow, AclAction Actions, string TopicFilter, bool Pattern)
    {
        public StoredAclRule ToStored() =>
            new(Id, UserName is not null ? AclScope.User : RoleName is not null ? AclScope.Role : AclScope.Everyone, UserName, RoleName, Allow, Actions, TopicFilter, Pattern);
    }
}
