namespace IoTHub.Data.Admin.ApiKeys;

/// <summary>Where the admin API's keys are kept (see <see cref="AdminStores"/>).</summary>
public interface IAdminApiKeyStore
{
    /// <summary>Stores <paramref name="key"/> (its <see cref="AdminApiKey.Id"/> is ignored) and returns it with the id it was given.</summary>
    Task<AdminApiKey> AddAsync(AdminApiKey key, CancellationToken cancellationToken);

    /// <summary>The key whose hash is <paramref name="keyHash"/>; null when there is none.</summary>
    Task<AdminApiKey?> FindByHashAsync(string keyHash, CancellationToken cancellationToken);

    /// <summary>Ordered by id, oldest first.</summary>
    Task<IReadOnlyList<AdminApiKey>> ListAsync(CancellationToken cancellationToken);

    /// <summary>False when there is no key with that id.</summary>
    Task<bool> DeleteAsync(int id, CancellationToken cancellationToken);
}
