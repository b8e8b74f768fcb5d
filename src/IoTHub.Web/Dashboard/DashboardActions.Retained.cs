using IoTHub.Web.Api.Retained;
using IoTHub.Web.Audit;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Dashboard;

/// <summary>The Retained page's changes: the API's own handlers run them, so every rule (no write under $SYS/, a valid topic, a payload) is the API's.</summary>
internal sealed partial class DashboardActions
{
    /// <summary>Stores or replaces a topic's retained message, as PUT /api/v1/retained/{topic}.</summary>
    public async Task<ActionOutcome> SetRetainedAsync(string broker, string? topic, SetRetainedRequest request)
    {
        return await RunAsAdminAsync($"dashboard: set the retained message of '{topic}' of broker '{broker}' (QoS {request.Qos})", async () =>
            FromApi(await RetainedApi.Set(registry, topic ?? string.Empty, request, broker), $"Kept the retained message of '{topic}'."));
    }

    /// <summary>Removes a topic's retained message, as DELETE /api/v1/retained/{topic}; one already gone counts as deleted.</summary>
    public async Task<ActionOutcome> DeleteRetainedAsync(string broker, string topic)
    {
        return await RunAsAdminAsync($"dashboard: delete the retained message of '{topic}' of broker '{broker}'", async () =>
            AlreadyDone(FromApi(await RetainedApi.Delete(registry, topic, broker), $"Deleted the retained message of '{topic}'."),
                $"The retained message of '{topic}' was already deleted."));
    }

    /// <summary>Removes every retained message matching a topic filter, as DELETE /api/v1/retained?topicFilter=; written once to the audit log.</summary>
    public async Task<ActionOutcome> DeleteRetainedMatchingAsync(string broker, string topicFilter)
    {
        return await RunAsAdminAsync($"dashboard: delete the retained messages matching '{topicFilter}' of broker '{broker}'", async () =>
        {
            var result = await RetainedApi.DeleteMatching(registry, broker, topicFilter);
            var deleted = AuditFilter.Unwrap(result) is Ok<DeletedRetained> ok ? ok.Value!.Deleted : 0;
            return FromApi(result, $"Deleted {deleted} retained message(s) matching '{topicFilter}'.");
        });
    }

    /// <summary>An API handler's answer for the page: its status for the audit log, and its problem's detail and errors by field when it refused.</summary>
    private static (int Status, ActionOutcome Outcome) FromApi(object result, string done) =>
        (AuditFilter.StatusOf(result) ?? StatusCodes.Status200OK, AuditFilter.Unwrap(result)) switch
        {
            (var status, ValidationProblem invalid) => (status, new ActionOutcome(false, invalid.ProblemDetails.Detail!,
                invalid.ProblemDetails.Errors.ToDictionary(static e => e.Key, static e => string.Join(" ", e.Value), StringComparer.Ordinal))),
            (var status, ProblemHttpResult problem) => (status, new ActionOutcome(false, problem.ProblemDetails.Detail!)),
            (var status, _) => (status, new ActionOutcome(true, done)),
        };
}
