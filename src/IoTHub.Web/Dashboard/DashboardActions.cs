using IoTHub.Broker;
using IoTHub.Data.Admin.Audit;
using IoTHub.Web.Api;
using IoTHub.Web.Api.Publish;
using IoTHub.Web.Api.Subscriptions;
using IoTHub.Web.Auth;
using IoTHub.Web.Api.AclRules;
using IoTHub.Web.Mqtt;
using IoTHub.Web.Security.Roles;
using IoTHub.Web.Security.Users;
using Microsoft.AspNetCore.Components.Authorization;

namespace IoTHub.Web.Dashboard;

/// <summary>What a dashboard action did, in words for the page.</summary>
/// <param name="Succeeded">Whether the change was made (or, for a delete, was made before).</param>
/// <param name="Message">What happened, in a sentence.</param>
/// <param name="Errors">What was wrong with each field of a refused change, for the form to show next to the field.</param>
/// <param name="Secret">A secret the change made and the page shows this once (a new API key).</param>
public sealed record ActionOutcome(bool Succeeded, string Message, IReadOnlyDictionary<string, string>? Errors = null, string? Secret = null)
{
    /// <summary>The error of <paramref name="field"/>, if the change was refused for it.</summary>
    public string? ErrorOf(string field) => Errors?.GetValueOrDefault(field);
}

/// <summary>The client's address as the dashboard's circuit saw it at the start (a circuit has no request of its own).</summary>
internal sealed class DashboardCircuit
{
    public string RemoteAddress { get; set; } = "(unknown)";
}

/// <summary>
/// The changes the dashboard can make, for one circuit. Each is refused unless the signed-in account
/// still exists with the admin role (whatever the page showed), does what the API's endpoint does,
/// and is written to the API's audit log with the account, the action (the request line of the same change made through the API),
/// the status the API answers it with, the address and the source <c>dashboard</c>.
/// </summary>
internal sealed partial class DashboardActions(AuthenticationStateProvider authentication, AdminAccounts accounts, IAuditLog audit, BrokerRegistry registry,
    MqttUserAccounts users, MqttAccessControl access, DashboardCircuit circuit, TimeProvider time, AdminApiKeys apiKeys)
{
    public const string ViewerRefusal = "Viewers cannot change anything; ask an admin.";

    /// <summary>Closes a client's connection; one already gone counts as done (a second click, the client leaving).</summary>
    public Task<ActionOutcome> DisconnectAsync(string broker, string clientId) =>
        OnBrokerAsync(Api("POST", $"/clients/{clientId}/disconnect", OfBroker(broker)), broker, found => found.Disconnect(clientId)
            ? (StatusCodes.Status204NoContent, new ActionOutcome(true, $"Disconnected '{clientId}'."))
            : (StatusCodes.Status404NotFound, new ActionOutcome(true, $"'{clientId}' was already disconnected.")));

    /// <summary>
    /// Ends a session as <c>DELETE /api/v1/sessions/{clientId}</c> does: its connection, if any, is closed ("disconnect and delete"),
    /// its queue and subscriptions dropped. One already gone counts as deleted.
    /// </summary>
    public Task<ActionOutcome> DeleteSessionAsync(string broker, string clientId) =>
        OnBrokerAsync(Api("DELETE", $"/sessions/{clientId}", OfBroker(broker)), broker, found => found.DeleteSession(clientId)
            ? (StatusCodes.Status204NoContent, new ActionOutcome(true, $"Deleted the session of '{clientId}'."))
            : (StatusCodes.Status404NotFound, new ActionOutcome(true, $"The session of '{clientId}' was already deleted.")));

    /// <summary>Removes a subscription as <c>DELETE /api/v1/subscriptions</c> does, as if its client had sent UNSUBSCRIBE; one already gone counts as removed.</summary>
    public Task<ActionOutcome> RemoveSubscriptionAsync(string broker, string clientId, string topicFilter) =>
        OnBrokerAsync(Api("DELETE", "/subscriptions", QueryString.Create("clientId", clientId).Add("topicFilter", topicFilter) + OfBroker(broker)), broker,
            found => found.Unsubscribe(clientId, topicFilter)
                ? (StatusCodes.Status204NoContent, new ActionOutcome(true, $"Removed '{topicFilter}' of '{clientId}'."))
                : (StatusCodes.Status404NotFound, new ActionOutcome(true, $"'{clientId}' was no longer subscribed to '{topicFilter}'.")));

    /// <summary>Subscribes a client's session as <c>POST /api/v1/subscriptions</c> does (its handler: the same checks and answers).</summary>
    public Task<ActionOutcome> AddSubscriptionAsync(AddSubscriptionRequest request) =>
        RunAsAdminAsync(Api("POST", "/subscriptions"),
            () => Task.FromResult(FromApi(SubscriptionsApi.Add(registry, request), $"Subscribed '{request.ClientId}' to '{request.TopicFilter}'.")));

    public Task<ActionOutcome> PublishAsync(PublishRequest request) => RunAsAdminAsync(Api("POST", "/publish"), () => Task.FromResult(Publish(request)));

    public async Task<ActionOutcome> AddMqttUserAsync(string? userName, string? password, string? clientIdPattern)
    {
        return await RunAsAdminAsync(Api("POST", "/mqtt-users"), async () =>
        {
            var errors = new ValidationErrors();
            var (outcome, _) = await users.CreateAsync(userName, password, enabled: true, string.IsNullOrEmpty(clientIdPattern) ? null : clientIdPattern,
                superuser: null, errors, CancellationToken.None);
            return outcome switch
            {
                MqttUserOutcome.Done => (StatusCodes.Status201Created, new ActionOutcome(true, $"Added user '{userName}'.")),
                MqttUserOutcome.Invalid => (StatusCodes.Status400BadRequest, new ActionOutcome(false, errors.Summary)),
                _ => (StatusCodes.Status409Conflict, new ActionOutcome(false, $"A user named '{userName}' exists.")),
            };
        });
    }

    public Task<ActionOutcome> ResetMqttPasswordAsync(string userName, string? password) =>
        ChangeMqttUserAsync(userName, new MqttUserChange(password ?? string.Empty, null, null),
            $"Set a new password for '{userName}'.");

    public Task<ActionOutcome> SetMqttUserEnabledAsync(string userName, bool enabled) =>
        ChangeMqttUserAsync(userName, new MqttUserChange(null, enabled, null),
            enabled ? $"Enabled '{userName}'." : $"Disabled '{userName}'; its clients were disconnected.");

    public async Task<ActionOutcome> DeleteMqttUserAsync(string userName)
    {
        return await RunAsAdminAsync(Api("DELETE", $"/mqtt-users/{userName}"), async () =>
            await users.DeleteAsync(userName, CancellationToken.None)
                ? (StatusCodes.Status204NoContent, new ActionOutcome(true, $"Deleted '{userName}'; its clients were disconnected."))
                : (StatusCodes.Status404NotFound, new ActionOutcome(false, $"There is no user '{userName}'.")));
    }

    public Task<ActionOutcome> SetSuperuserAsync(string userName, bool superuser) =>
        ChangeMqttUserAsync(userName, new MqttUserChange(null, null, null, superuser),
            superuser ? $"'{userName}' is a superuser: no rule applies to it." : $"'{userName}' is no longer a superuser: the rules apply to it.");

    public async Task<ActionOutcome> CreateRoleAsync(string? name, string? description)
    {
        return await RunAsAdminAsync(Api("POST", "/roles"), async () =>
        {
            var errors = new ValidationErrors();
            return Answer(await access.CreateRoleAsync(name, description, errors, CancellationToken.None), errors, StatusCodes.Status201Created,
                $"Created role '{name}'.");
        });
    }

    public async Task<ActionOutcome> UpdateRoleAsync(string name, string? newName, string? description)
    {
        return await RunAsAdminAsync(Api("PUT", $"/roles/{name}"), async () =>
        {
            var errors = new ValidationErrors();
            return Answer(await access.UpdateRoleAsync(name, newName == name ? null : newName, description, errors, CancellationToken.None), errors,
                StatusCodes.Status200OK, $"Saved role '{newName ?? name}'.");
        });
    }

    /// <summary>Deletes a role; one already gone counts as deleted (a second click, another admin's delete).</summary>
    public async Task<ActionOutcome> DeleteRoleAsync(string name)
    {
        return await RunAsAdminAsync(Api("DELETE", $"/roles/{name}"), async () =>
            await access.DeleteRoleAsync(name, CancellationToken.None)
                ? (StatusCodes.Status204NoContent, new ActionOutcome(true, $"Deleted role '{name}'; its members lost it."))
                : (StatusCodes.Status404NotFound, new ActionOutcome(true, $"Role '{name}' was already deleted.")));
    }

    public async Task<ActionOutcome> CreateRuleAsync(AclRuleRequest request)
    {
        var owner = request.Scope switch { "role" => $" of role '{request.Role}'", "user" => $" of user '{request.UserName}'", _ => " for everyone" };
        return await RunAsAdminAsync(Api("POST", "/acl-rules"), async () =>
        {
            var errors = new ValidationErrors();
            var change = await access.CreateRuleAsync(request, errors, CancellationToken.None);
            return Answer(change, errors, StatusCodes.Status201Created, $"Added rule {change.Value?.Id}{owner}.");
        });
    }

    /// <summary>Deletes a rule; one already gone counts as deleted.</summary>
    public async Task<ActionOutcome> DeleteRuleAsync(int id)
    {
        return await RunAsAdminAsync(Api("DELETE", $"/acl-rules/{id}"), async () =>
            await access.DeleteRuleAsync(id, CancellationToken.None)
                ? (StatusCodes.Status204NoContent, new ActionOutcome(true, $"Deleted rule {id}."))
                : (StatusCodes.Status404NotFound, new ActionOutcome(true, $"Rule {id} was already deleted.")));
    }

    public async Task<ActionOutcome> SetUserRolesAsync(string userName, IReadOnlyList<string> roles)
    {
        return await RunAsAdminAsync(Api("PUT", $"/mqtt-users/{userName}/roles"), async () =>
        {
            var errors = new ValidationErrors();
            return Answer(await access.SetUserRolesAsync(userName, [.. roles], errors, CancellationToken.None), errors, StatusCodes.Status200OK,
                roles.Count == 0 ? $"'{userName}' holds no role." : $"'{userName}' holds {string.Join(", ", roles.Select(static r => $"'{r}'"))}.");
        });
    }

    private static (int Status, ActionOutcome Outcome) Answer<T>(AccessChange<T> change, ValidationErrors errors, int doneStatus, string done) =>
        change.Outcome switch
        {
            AccessOutcome.Done => (doneStatus, new ActionOutcome(true, done)),
            AccessOutcome.Invalid => (StatusCodes.Status400BadRequest, new ActionOutcome(false, errors.Summary, errors.ByField)),
            AccessOutcome.Exists => (StatusCodes.Status409Conflict, new ActionOutcome(false, change.Problem!)),
            _ => (StatusCodes.Status404NotFound, new ActionOutcome(false, change.Problem!)),
        };

    private async Task<ActionOutcome> ChangeMqttUserAsync(string userName, MqttUserChange change, string done)
    {
        return await RunAsAdminAsync(Api("PUT", $"/mqtt-users/{userName}"), async () =>
        {
            var errors = new ValidationErrors();
            var (outcome, _) = await users.UpdateAsync(userName, change, errors, CancellationToken.None);
            return outcome switch
            {
                MqttUserOutcome.Done => (StatusCodes.Status200OK, new ActionOutcome(true, done)),
                MqttUserOutcome.Invalid => (StatusCodes.Status400BadRequest, new ActionOutcome(false, errors.Summary)),
                _ => (StatusCodes.Status404NotFound, new ActionOutcome(false, $"There is no user '{userName}'.")),
            };
        });
    }

    /// <summary>Runs <paramref name="change"/> on the broker named <paramref name="broker"/>, as an admin, audited as <paramref name="action"/>.</summary>
    private Task<ActionOutcome> OnBrokerAsync(string action, string broker, Func<MqttBroker, (int Status, ActionOutcome Outcome)> change) =>
        RunAsAdminAsync(action, () => Task.FromResult(registry.TryFind(broker, out _, out var found, out var problem)
            ? change(found)
            : (StatusCodes.Status404NotFound, new ActionOutcome(false, problem.ProblemDetails.Detail!))));

    private (int Status, ActionOutcome Outcome) Publish(PublishRequest request)
    {
        if (!registry.TryFind(request.Broker, out var name, out var broker, out var problem))
        {
            return (StatusCodes.Status404NotFound, new ActionOutcome(false, problem.ProblemDetails.Detail!));
        }

        var errors = new ValidationErrors();
        if (MessageContent.BuildPublish(request, broker, errors) is not { } message)
        {
            return (StatusCodes.Status400BadRequest, new ActionOutcome(false, errors.Summary));
        }

        var reached = broker.Publish(message);
        return (StatusCodes.Status200OK, new ActionOutcome(true, $"Published to '{message.Topic}' on broker '{name}': {reached} subscriber(s) reached."));
    }

    private async Task<ActionOutcome> RunAsAdminAsync(string action, Func<Task<(int Status, ActionOutcome Outcome)>> change)
    {
        var user = (await authentication.GetAuthenticationStateAsync()).User;
        var (status, outcome) = user.IsInRole(AdminRoles.Admin) && await accounts.IsCurrentAsync(user, CancellationToken.None)
            ? await change()
            : (StatusCodes.Status403Forbidden, new ActionOutcome(false, ViewerRefusal));
        await audit.WriteAsync(new AuditRecord(time.GetUtcNow(), user.Identity?.Name ?? "(unknown)", action, status, circuit.RemoteAddress, AuditSources.Dashboard),
            CancellationToken.None);
        return outcome;
    }
}
