using IoTHub.Data.Admin.Audit;
using IoTHub.Web.Api;
using IoTHub.Web.Api.Publish;
using IoTHub.Web.Auth;
using IoTHub.Web.Mqtt;
using IoTHub.Web.Security.Users;
using Microsoft.AspNetCore.Components.Authorization;

namespace IoTHub.Web.Dashboard;

/// <summary>What a dashboard action did, in words for the page.</summary>
public sealed record ActionOutcome(bool Succeeded, string Message);

/// <summary>The client's address as the dashboard's circuit saw it at the start (a circuit has no request of its own).</summary>
internal sealed class DashboardCircuit
{
    public string RemoteAddress { get; set; } = "(unknown)";
}

/// <summary>
/// The changes the dashboard can make, for one circuit. Each is refused unless the signed-in account
/// still exists with the admin role (whatever the page showed), does what the API's endpoint does,
/// and is written to the API's audit log with the account, the action, the outcome and the address.
/// </summary>
internal sealed class DashboardActions(AuthenticationStateProvider authentication, AdminAccounts accounts, IAuditLog audit, BrokerRegistry registry,
    MqttUserAccounts users, DashboardCircuit circuit, TimeProvider time)
{
    public const string ViewerRefusal = "Viewers cannot change anything; ask an admin.";

    public async Task<ActionOutcome> DisconnectAsync(string broker, string clientId)
    {
        var action = $"dashboard: disconnect client '{clientId}' of broker '{broker}'";
        return await RunAsAdminAsync(action, () => Task.FromResult(Disconnect(broker, clientId)));
    }

    public async Task<ActionOutcome> PublishAsync(PublishRequest request)
    {
        var action = $"dashboard: publish to '{request.Topic}' of broker '{request.Broker}' (QoS {request.Qos}{(request.Retain ? ", retained" : string.Empty)})";
        return await RunAsAdminAsync(action, () => Task.FromResult(Publish(request)));
    }

    public async Task<ActionOutcome> AddMqttUserAsync(string? userName, string? password, string? clientIdPattern)
    {
        return await RunAsAdminAsync($"dashboard: add MQTT user '{userName}'", async () =>
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
        ChangeMqttUserAsync($"dashboard: reset the password of MQTT user '{userName}'", userName, new MqttUserChange(password ?? string.Empty, null, null),
            $"Set a new password for '{userName}'.");

    public Task<ActionOutcome> SetMqttUserEnabledAsync(string userName, bool enabled) =>
        ChangeMqttUserAsync($"dashboard: {(enabled ? "enable" : "disable")} MQTT user '{userName}'", userName, new MqttUserChange(null, enabled, null),
            enabled ? $"Enabled '{userName}'." : $"Disabled '{userName}'; its clients were disconnected.");

    public async Task<ActionOutcome> DeleteMqttUserAsync(string userName)
    {
        return await RunAsAdminAsync($"dashboard: delete MQTT user '{userName}'", async () =>
            await users.DeleteAsync(userName, CancellationToken.None)
                ? (StatusCodes.Status204NoContent, new ActionOutcome(true, $"Deleted '{userName}'; its clients were disconnected."))
                : (StatusCodes.Status404NotFound, new ActionOutcome(false, $"There is no user '{userName}'.")));
    }

    private async Task<ActionOutcome> ChangeMqttUserAsync(string action, string userName, MqttUserChange change, string done)
    {
        return await RunAsAdminAsync(action, async () =>
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

    private (int Status, ActionOutcome Outcome) Disconnect(string broker, string clientId)
    {
        if (!registry.TryFind(broker, out var name, out var found, out var problem))
        {
            return (StatusCodes.Status404NotFound, new ActionOutcome(false, problem.ProblemDetails.Detail!));
        }

        return found.Disconnect(clientId)
            ? (StatusCodes.Status204NoContent, new ActionOutcome(true, $"Disconnected '{clientId}'."))
            : (StatusCodes.Status404NotFound, new ActionOutcome(false, $"No client '{clientId}' is connected to broker '{name}'."));
    }

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
        await audit.WriteAsync(new AuditRecord(time.GetUtcNow(), user.Identity?.Name ?? "(unknown)", action, status, circuit.RemoteAddress), CancellationToken.None);
        return outcome;
    }
}
