using System.ComponentModel;
using IoTHub.Broker.Security.Roles;
using IoTHub.Web.Auth;
using IoTHub.Web.Security.Roles;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Roles;

/// <summary>A role: a name that holds access rules (/api/v1/acl-rules?role=...), given to MQTT users.</summary>
/// <param name="Name">Its name (case-sensitive).</param>
/// <param name="Description">What it is for; null for none.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ChangedAt">When it was last renamed or described.</param>
internal sealed record RoleInfo(string Name, string? Description, DateTimeOffset CreatedAt, DateTimeOffset ChangedAt)
{
    public static RoleInfo From(Role role) => new(role.Name, role.Description, role.CreatedAt, role.ChangedAt);
}

/// <summary>A new role.</summary>
/// <param name="Name">1 to 256 characters, no control characters.</param>
/// <param name="Description">What it is for, at most 1 024 characters; none when absent.</param>
internal sealed record CreateRoleRequest(string? Name, string? Description);

/// <summary>Changes to a role; what is absent stays as it is.</summary>
/// <param name="Name">A new name: its rules and members follow.</param>
/// <param name="Description">A new description; an empty one removes it.</param>
internal sealed record UpdateRoleRequest(string? Name, string? Description);

/// <summary>The roles an MQTT user holds.</summary>
/// <param name="UserName">The user.</param>
/// <param name="Roles">Its roles, by name.</param>
internal sealed record UserRolesInfo(string UserName, IReadOnlyList<string> Roles);

/// <summary>The roles an MQTT user is to hold, replacing those it holds.</summary>
/// <param name="Roles">Names of existing roles; [] for none.</param>
internal sealed record SetUserRolesRequest(IReadOnlyList<string?>? Roles);

/// <summary>/api/v1/roles and /api/v1/mqtt-users/{userName}/roles: roles, and the roles each MQTT user holds; viewers may read, admins change.</summary>
internal static class RolesApi
{
    public static IEndpointRouteBuilder MapRolesApi(this IEndpointRouteBuilder api)
    {
        var roles = api.MapGroup("/roles").WithTags("Roles");
        roles.MapGet("/", List).WithName("ListRoles").WithSummary("Lists the roles, by name.");
        roles.MapGet("/{name}", Get).WithName("GetRole").WithSummary("One role.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        roles.MapPost("/", Create).WithName("CreateRole").WithSummary("Creates a role; give it rules through /api/v1/acl-rules with scope role.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        roles.MapPut("/{name}", Update).WithName("UpdateRole").WithSummary("Renames or describes a role; its rules and members follow a rename.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        roles.MapDelete("/{name}", Delete).WithName("DeleteRole")
            .WithSummary("Deletes a role with its rules; its members lose it at once (subscriptions it granted are removed).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);

        var held = api.MapGroup("/mqtt-users/{userName}/roles").WithTags("Roles");
        held.MapGet("/", GetUserRoles).WithName("GetMqttUserRoles").WithSummary("The roles an MQTT user holds.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        held.MapPut("/", SetUserRoles).WithName("SetMqttUserRoles")
            .WithSummary("Replaces the roles an MQTT user holds; in force on its connected clients before the answer.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static async Task<Results<Ok<ResultPage<RoleInfo>>, ValidationProblem>> List(MqttAccessControl access, [AsParameters] PageQuery paging,
        [Description("Only roles whose name contains this text (any case).")] string? search, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var all = await access.ListRolesAsync(cancellationToken);
        return TypedResults.Ok(paging.Apply(all.Where(r => search is null || r.Name.Contains(search, StringComparison.OrdinalIgnoreCase)).Select(RoleInfo.From)));
    }

    private static async Task<Results<Ok<RoleInfo>, ProblemHttpResult>> Get(MqttAccessControl access, string name, CancellationToken cancellationToken) =>
        await access.FindRoleAsync(name, cancellationToken) is { } role ? TypedResults.Ok(RoleInfo.From(role)) : ApiProblems.NotFound(MqttAccessControl.NoRole(name));

    private static async Task<Results<Created<RoleInfo>, ValidationProblem, ProblemHttpResult>> Create(MqttAccessControl access, CreateRoleRequest request,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var change = await access.CreateRoleAsync(request.Name, request.Description, errors, cancellationToken);
        return change.Outcome switch
        {
            AccessOutcome.Done => TypedResults.Created($"{AdminApi.Prefix}/roles/{Uri.EscapeDataString(change.Value!.Name)}", RoleInfo.From(change.Value)),
            AccessOutcome.Invalid => errors.ToResult(),
            _ => ApiProblems.Conflict(change.Problem!),
        };
    }

    private static async Task<Results<Ok<RoleInfo>, ValidationProblem, ProblemHttpResult>> Update(MqttAccessControl access, string name, UpdateRoleRequest request,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var change = await access.UpdateRoleAsync(name, request.Name, request.Description, errors, cancellationToken);
        return change.Outcome switch
        {
            AccessOutcome.Done => TypedResults.Ok(RoleInfo.From(change.Value!)),
            AccessOutcome.Invalid => errors.ToResult(),
            AccessOutcome.Exists => ApiProblems.Conflict(change.Problem!),
            _ => ApiProblems.NotFound(change.Problem!),
        };
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(MqttAccessControl access, string name, CancellationToken cancellationToken) =>
        await access.DeleteRoleAsync(name, cancellationToken) ? TypedResults.NoContent() : ApiProblems.NotFound(MqttAccessControl.NoRole(name));

    private static async Task<Results<Ok<UserRolesInfo>, ProblemHttpResult>> GetUserRoles(MqttAccessControl access, string userName,
        CancellationToken cancellationToken) =>
        await access.FindUserRolesAsync(userName, cancellationToken) is { } roles
            ? TypedResults.Ok(new UserRolesInfo(userName, roles))
            : ApiProblems.NotFound(MqttAccessControl.NoUser(userName));

    private static async Task<Results<Ok<UserRolesInfo>, ValidationProblem, ProblemHttpResult>> SetUserRoles(MqttAccessControl access, string userName,
        SetUserRolesRequest request, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var change = await access.SetUserRolesAsync(userName, request.Roles, errors, cancellationToken);
        return change.Outcome switch
        {
            AccessOutcome.Done => TypedResults.Ok(new UserRolesInfo(userName, change.Value!)),
            AccessOutcome.Invalid => errors.ToResult(),
            _ => ApiProblems.NotFound(change.Problem!),
        };
    }
}
