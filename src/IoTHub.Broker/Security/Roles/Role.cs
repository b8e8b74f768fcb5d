namespace IoTHub.Broker.Security.Roles;

/// <summary>A role: a name that holds access rules (<see cref="StoredAclRule"/>), given to users.</summary>
/// <param name="Name">1 to 256 characters without control characters, unique, case-sensitive.</param>
/// <param name="Description">What the role is for; null for none.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ChangedAt">When it was last renamed or described (its creation, until then).</param>
public sealed record Role(string Name, string? Description, DateTimeOffset CreatedAt, DateTimeOffset ChangedAt);
