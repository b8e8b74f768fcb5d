namespace IoTHub.Data.Admin.ApiKeys;

/// <summary>An API key of the admin API as stored: its hash, never the key.</summary>
/// <param name="Id">Given by the store when the key is added.</param>
/// <param name="Name">What it is for.</param>
/// <param name="KeyHash">Hex SHA-256 of the whole key.</param>
/// <param name="Role">"admin" or "viewer".</param>
/// <param name="CreatedBy">The account that created it.</param>
/// <param name="CreatedAt">When it was created.</param>
public sealed record AdminApiKey(int Id, string Name, string KeyHash, string Role, string CreatedBy, DateTimeOffset CreatedAt);
