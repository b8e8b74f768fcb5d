namespace IoTHub.Data.Entities;

/// <summary>An API key for scripts: only the SHA-256 of the key is stored (the key itself is shown once).</summary>
public sealed class AdminApiKeyEntity
{
    public int Id { get; set; }

    public required string Name { get; set; }

    /// <summary>Hex SHA-256 of the whole key; keys are 256 random bits, so a fast hash is safe and lookups stay cheap.</summary>
    public required string KeyHash { get; set; }

    /// <summary>"admin" or "viewer".</summary>
    public required string Role { get; set; }

    public required string CreatedBy { get; set; }

    /// <summary>When it was created, in Unix milliseconds.</summary>
    public long CreatedAt { get; set; }
}
