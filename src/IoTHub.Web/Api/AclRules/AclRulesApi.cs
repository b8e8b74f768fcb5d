using System.ComponentModel;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Roles;
using IoTHub.Web.Auth;
using IoTHub.Web.Security.Roles;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.AclRules;

/// <summary>A stored access rule.</summary>
/// <param name="Id">Its id, given when it was created.</param>
/// <param name="Scope">Whom it is for: user (one MQTT user), role (the users holding a role) or everyone.</param>
/// <param name="UserName">The MQTT user of a user rule; null otherwise.</param>
/// <param name="Role">The role of a role rule; null otherwise.</param>
/// <param name="Permission">allow or deny.</param>
/// <param name="Action">publish, subscribe (subscribing and receiving) or both.</param>
/// <param name="TopicFilter">The topics it is about: a topic filter with + and #.</param>
/// <param name="Pattern">Whether %u (user name), %c (client id) and ${cert_cn} (client certificate common name) in the filter stand for the client's values.</param>
internal sealed record AclRuleInfo(int Id, string Scope, string? UserName, string? Role, string Permission, string Action, string TopicFilter, bool Pattern)
{
    public static AclRuleInfo From(StoredAclRule rule) =>
        new(rule.Id, ScopeName(rule.Scope), rule.UserName, rule.RoleName, rule.Allow ? "allow" : "deny", ActionName(rule.Actions), rule.Filter, rule.Pattern);

    public static string ScopeName(AclScope scope) => scope switch
    {
        AclScope.User => "user",
        AclScope.Role => "role",
        _ => "everyone",
    };

    public static AclScope? ParseScope(string? scope) => scope switch
    {
        "user" => AclScope.User,
        "role" => AclScope.Role,
        "everyone" => AclScope.Everyone,
        _ => null,
    };

    public static AclAction? ParseAction(string? action) => action switch
    {
        "publish" => AclAction.Publish,
        "subscribe" => AclAction.Subscribe,
        "both" => AclAction.Both,
        _ => null,
    };

    public static string ActionName(AclAction action) => action switch
    {
        AclAction.Publish => "publish",
        AclAction.Subscribe => "subscribe",
        _ => "both",
    };
}

/// <summary>A whole access rule, to create or to replace one.</summary>
/// <param name="Scope">user, role or everyone.</param>
/// <param name="UserName">The MQTT user of a user rule (it must exist); absent otherwise.</param>
/// <param name="Role">The role of a role rule (it must exist); absent otherwise.</param>
/// <param name="Permission">allow or deny. Within the most specific scope that has a matching rule, a deny wins.</param>
/// <param name="Action">publish, subscribe (subscribing and receiving) or both.</param>
/// <param name="TopicFilter">A topic filter with + and #, not $share/: a subscription is granted when the rule covers the whole filter.</param>
/// <param name="Pattern">Whether %u, %c and ${cert_cn} stand for the client's values; when absent, true exactly when the filter holds one of them.</param>
internal sealed record AclRuleRequest(string? Scope, string? UserName, string? Role, string? Permission, string? Action, string? TopicFilter, bool? Pattern = null);

/// <summary>/api/v1/acl-rules: the stored access rules, for a user, a role or everyone; viewers may read, admins change.</summary>
internal static class AclRulesApi
{
    public static IEndpointRouteBuilder MapAclRulesApi(this IEndpointRouteBuilder api)
    {
        var rules = api.MapGroup("/acl-rules").WithTags("Access rules");
        rules.MapGet("/", List).WithName("ListAclRules").WithSummary("Lists the stored access rules by id, optionally of one scope, user or role.");
        rules.MapGet("/{id:int}", Get).WithName("GetAclRule").WithSummary("One stored access rule.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        rules.MapPost("/", Create).WithName("CreateAclRule")
            .WithSummary("Creates an access rule; it applies to connected clients before the answer (subscriptions it takes away are removed).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        rules.MapPut("/{id:int}", Replace).WithName("ReplaceAclRule")
            .WithSummary("Replaces an access rule with the whole rule given; in force on connected clients before the answer.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        rules.MapDelete("/{id:int}", Delete).WithName("DeleteAclRule")
            .WithSummary("Deletes an access rule; in force on connected clients before the answer.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static async Task<Results<Ok<ResultPage<AclRuleInfo>>, ValidationProblem>> List(MqttAccessControl access, [AsParameters] PageQuery paging,
        [Description("Only rules of this scope: user, role or everyone.")] string? scope, [Description("Only the rules of this MQTT user.")] string? userName,
        [Description("Only the rules of this role.")] string? role, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        var only = AclRuleInfo.ParseScope(scope);
        if (scope is not null && only is null)
        {
            errors.Add("scope", "must be user, role or everyone.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var all = await access.ListRulesAsync(cancellationToken);
        return TypedResults.Ok(paging.Apply(all
            .Where(r => (only is null || r.Scope == only) && (userName is null || r.UserName == userName) && (role is null || r.RoleName == role))
            .Select(AclRuleInfo.From)));
    }

    private static async Task<Results<Ok<AclRuleInfo>, ProblemHttpResult>> Get(MqttAccessControl access, int id, CancellationToken cancellationToken) =>
        await access.FindRuleAsync(id, cancellationToken) is { } rule ? TypedResults.Ok(AclRuleInfo.From(rule)) : ApiProblems.NotFound(MqttAccessControl.NoRule(id));

    private static async Task<Results<Created<AclRuleInfo>, ValidationProblem, ProblemHttpResult>> Create(MqttAccessControl access, AclRuleRequest request,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var change = await access.CreateRuleAsync(request, errors, cancellationToken);
        return change.Outcome switch
        {
            AccessOutcome.Done => TypedResults.Created($"{AdminApi.Prefix}/acl-rules/{change.Value!.Id}", AclRuleInfo.From(change.Value)),
            AccessOutcome.Invalid => errors.ToResult(),
            _ => ApiProblems.NotFound(change.Problem!),
        };
    }

    private static async Task<Results<Ok<AclRuleInfo>, ValidationProblem, ProblemHttpResult>> Replace(MqttAccessControl access, int id, AclRuleRequest request,
        CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var change = await access.ReplaceRuleAsync(id, request, errors, cancellationToken);
        return change.Outcome switch
        {
            AccessOutcome.Done => TypedResults.Ok(AclRuleInfo.From(change.Value!)),
            AccessOutcome.Invalid => errors.ToResult(),
            _ => ApiProblems.NotFound(change.Problem!),
        };
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(MqttAccessControl access, int id, CancellationToken cancellationToken) =>
        await access.DeleteRuleAsync(id, cancellationToken) ? TypedResults.NoContent() : ApiProblems.NotFound(MqttAccessControl.NoRule(id));
}
