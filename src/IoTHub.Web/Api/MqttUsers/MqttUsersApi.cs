using System.ComponentModel;
using IoTHub.Broker.Security.Users;
using IoTHub.Web.Auth;
using IoTHub.Web.Security.Users;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.MqttUsers;

/// <summary>A built-in MQTT user, without its password or hash.</summary>
/// <param name="UserName">The user name it connects with (case-sensitive).</param>
/// <param name="Enabled">False: refused as with a wrong password (0x86), and its clients were disconnected when it was disabled.</param>
/// <param name="ClientIdPattern">The client ids it may use (* any run of characters, ? one character, %u its user name); null for any.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ChangedAt">When it was last changed.</param>
/// <param name="Superuser">True: its clients may publish and subscribe to anything; no access rule is checked for them.</param>
internal sealed record MqttUserInfo(string UserName, bool Enabled, string? ClientIdPattern, DateTimeOffset CreatedAt, DateTimeOffset ChangedAt, bool Superuser)
{
    public static MqttUserInfo From(MqttUser user) => new(user.UserName, user.Enabled, user.ClientIdPattern, user.CreatedAt, user.ChangedAt, user.Superuser);
}

/// <summary>A new MQTT user.</summary>
/// <param name="UserName">1 to 256 characters, no control characters.</param>
/// <param name="Password">At least 8 characters; stored as a PBKDF2-SHA512 hash only.</param>
/// <param name="Enabled">True when absent.</param>
/// <param name="ClientIdPattern">The client ids it may use (* any run of characters, ? one character, %u its user name); any when absent.</param>
/// <param name="Superuser">True: no access rule is checked for its clients. False when absent.</param>
internal sealed record CreateMqttUserRequest(string? UserName, string? Password, bool? Enabled, string? ClientIdPattern, bool? Superuser = null);

/// <summary>Changes to an MQTT user; what is absent stays as it is.</summary>
/// <param name="Password">A new password, at least 8 characters.</param>
/// <param name="Enabled">False disables the user and disconnects its clients.</param>
/// <param name="ClientIdPattern">A new pattern; an empty one allows any client id.</param>
/// <param name="Superuser">True: no access rule is checked for its clients from now on; false: they are checked again at once (subscriptions the rules do not allow are removed).</param>
internal sealed record UpdateMqttUserRequest(string? Password, bool? Enabled, string? ClientIdPattern, bool? Superuser = null);

/// <summary>A Mosquitto password file to import.</summary>
/// <param name="PasswordFile">Its text: one user:hash per line as mosquitto_passwd writes them ($7$ or $6$).</param>
internal sealed record ImportMqttUsersRequest(string? PasswordFile);

/// <summary>A line of an imported file that was not imported.</summary>
/// <param name="Line">Its number, from 1.</param>
/// <param name="Problem">Why, without the hash.</param>
internal sealed record ImportProblem(int Line, string Problem);

/// <summary>What an import did.</summary>
/// <param name="Added">The users added, in file order.</param>
/// <param name="Problems">The lines skipped, in file order.</param>
internal sealed record ImportMqttUsersResult(IReadOnlyList<string> Added, IReadOnlyList<ImportProblem> Problems);

/// <summary>/api/v1/mqtt-users: the built-in MQTT users (the Database authenticator); viewers may read, admins change.</summary>
internal static class MqttUsersApi
{
    public static IEndpointRouteBuilder MapMqttUsersApi(this IEndpointRouteBuilder api)
    {
        var users = api.MapGroup("/mqtt-users").WithTags("MQTT users");
        users.MapGet("/", List).WithName("ListMqttUsers").WithSummary("Lists the built-in MQTT users, by user name.");
        users.MapGet("/{userName}", Get).WithName("GetMqttUser").WithSummary("One built-in MQTT user.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        users.MapPost("/", Create).WithName("CreateMqttUser").WithSummary("Creates a built-in MQTT user.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        users.MapPut("/{userName}", Update).WithName("UpdateMqttUser")
            .WithSummary("Changes a user's password, enabled flag, client-id pattern or superuser flag; disabling disconnects its clients (5.0: DISCONNECT 0x87).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        users.MapDelete("/{userName}", Delete).WithName("DeleteMqttUser")
            .WithSummary("Deletes a user with its roles and access rules, and disconnects its clients (5.0: DISCONNECT 0x87).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        users.MapPost("/import", Import).WithName("ImportMqttUsers")
            .WithSummary("Adds the users of a Mosquitto password file with their hashes as they are; bad lines and existing users are reported by line.")
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static async Task<Results<Ok<ResultPage<MqttUserInfo>>, ValidationProblem>> List(MqttUserAccounts users, [AsParameters] PageQuery paging,
        [Description("Only users whose name contains this text (any case).")] string? search, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var all = await users.ListAsync(cancellationToken);
        return TypedResults.Ok(paging.Apply(all.Where(u => search is null || u.UserName.Contains(search, StringComparison.OrdinalIgnoreCase)).Select(MqttUserInfo.From)));
    }

    private static async Task<Results<Ok<MqttUserInfo>, ProblemHttpResult>> Get(MqttUserAccounts users, string userName, CancellationToken cancellationToken) =>
        await users.FindAsync(userName, cancellationToken) is { } user ? TypedResults.Ok(MqttUserInfo.From(user)) : NotFound(userName);

    private static async Task<Results<Created<MqttUserInfo>, ValidationProblem, ProblemHttpResult>> Create(MqttUserAccounts users, CreateMqttUserRequest request,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var (outcome, user) = await users.CreateAsync(request.UserName, request.Password, request.Enabled, request.ClientIdPattern, request.Superuser, errors,
            cancellationToken);
        return outcome switch
        {
            MqttUserOutcome.Done => TypedResults.Created($"{AdminApi.Prefix}/mqtt-users/{Uri.EscapeDataString(user!.UserName)}", MqttUserInfo.From(user)),
            MqttUserOutcome.Invalid => errors.ToResult(),
            _ => ApiProblems.Conflict($"An MQTT user named '{request.UserName}' exists."),
        };
    }

    private static async Task<Results<Ok<MqttUserInfo>, ValidationProblem, ProblemHttpResult>> Update(MqttUserAccounts users, string userName,
        UpdateMqttUserRequest request, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var (outcome, user) = await users.UpdateAsync(userName, new MqttUserChange(request.Password, request.Enabled, request.ClientIdPattern, request.Superuser),
            errors, cancellationToken);
        return outcome switch
        {
            MqttUserOutcome.Done => TypedResults.Ok(MqttUserInfo.From(user!)),
            MqttUserOutcome.Invalid => errors.ToResult(),
            _ => NotFound(userName),
        };
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(MqttUserAccounts users, string userName, CancellationToken cancellationToken) =>
        await users.DeleteAsync(userName, cancellationToken) ? TypedResults.NoContent() : NotFound(userName);

    private static async Task<Results<Ok<ImportMqttUsersResult>, ValidationProblem>> Import(MqttUserAccounts users, ImportMqttUsersRequest request,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.PasswordFile))
        {
            var errors = new ValidationErrors();
            errors.Add("passwordFile", "must hold the text of a Mosquitto password file.");
            return errors.ToResult();
        }

        var (added, problems) = await users.ImportAsync(request.PasswordFile, cancellationToken);
        return TypedResults.Ok(new ImportMqttUsersResult(added, [.. problems.Select(static p => new ImportProblem(p.Line, p.Problem))]));
    }

    private static ProblemHttpResult NotFound(string userName) => ApiProblems.NotFound($"There is no MQTT user '{userName}'.");
}
