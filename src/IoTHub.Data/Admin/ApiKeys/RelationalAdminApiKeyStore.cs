using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Admin.ApiKeys;

/// <summary>The admin_api_keys table; ids come from the database.</summary>
internal sealed class RelationalAdminApiKeyStore(IDbContextFactory<BrokerDbContext> contexts) : IAdminApiKeyStore
{
    public Task<AdminApiKey> AddAsync(AdminApiKey key, CancellationToken cancellationToken) =>
        contexts.RunAsync(async context =>
        {
            var entity = new AdminApiKeyEntity
            {
                Name = key.Name,
                KeyHash = key.KeyHash,
                Role = key.Role,
                CreatedBy = key.CreatedBy,
                CreatedAt = key.CreatedAt.ToUnixTimeMilliseconds(),
            };
            context.AdminApiKeys.Add(entity);
            await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return key with { Id = entity.Id };
        });

    public Task<AdminApiKey?> FindByHashAsync(string keyHash, CancellationToken cancellationToken) =>
        contexts.FindAsync(static c => c.AdminApiKeys, k => k.KeyHash == keyHash, ToKey, cancellationToken);

    public Task<IReadOnlyList<AdminApiKey>> ListAsync(CancellationToken cancellationToken) =>
        contexts.ListAsync(static c => c.AdminApiKeys, static k => k.Id, ToKey, cancellationToken);

    public Task<bool> DeleteAsync(int id, CancellationToken cancellationToken) =>
        contexts.DeleteAsync(static c => c.AdminApiKeys, k => k.Id == id, cancellationToken);

    private static AdminApiKey ToKey(AdminApiKeyEntity e) =>
        new(e.Id, e.Name, e.KeyHash, e.Role, e.CreatedBy, DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt));
}
