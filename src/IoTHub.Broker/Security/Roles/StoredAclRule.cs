using IoTHub.Broker.Security.Authorization;

namespace IoTHub.Broker.Security.Roles;

/// <summary>
/// An access rule kept in an <see cref="IAclStore"/>: for a user (<see cref="UserName"/>), a role (<see cref="RoleName"/>)
/// or everyone (neither).
/// </summary>
/// <param name="Id">Given by the store when the rule is added.</param>
/// <param name="Scope"><see cref="AclScope.User"/>, <see cref="AclScope.Role"/> or <see cref="AclScope.Everyone"/>.</param>
/// <param name="Pattern">Whether <c>%u</c>, <c>%c</c> and <c>${cert_cn}</c> in the filter stand for the client's values.</param>
public sealed record StoredAclRule(int Id, AclScope Scope, string? UserName, string? RoleName, bool Allow, AclAction Actions, string Filter, bool Pattern)
{
    /// <summary>The rule as the authorizer compiles it, with <see cref="Source"/> as its source.</summary>
    public AclRule ToRule() => new(Allow, Actions, Filter, Scope, UserName, Pattern, Source, RoleName);

    /// <summary>
    /// How logs and the access audit name the rule: its scope and, after the last <c>#</c>, its id in
    /// <c>/api/v1/acl-rules/{id}</c>: <c>role:operators#7</c>, <c>user:alice#8</c>, <c>everyone#9</c>.
    /// </summary>
    public string Source => Scope switch
    {
        AclScope.Role => $"role:{RoleName}#{Id}",
        AclScope.User => $"user:{UserName}#{Id}",
        _ => $"everyone#{Id}",
    };

    /// <summary>Whether <paramref name="filter"/> holds a placeholder (<c>%u</c>, <c>%c</c>, <c>${cert_cn}</c>) in any level.</summary>
    public static bool HoldsPlaceholders(string filter)
    {
        foreach (var level in filter.Split('/'))
        {
            if (AclTemplate.Parse(level) is not null)
            {
                return true;
            }
        }

        return false;
    }
}
