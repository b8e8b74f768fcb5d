using IoTHub.Web.Api.Retained;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Dashboard;

/// <summary>The Retained page's changes: the API's own handlers run them, so every rule (no write under $SYS/, a valid topic, a payload) is the API's.</summary>
internal sealed partial class DashboardActions
{
    /// <summary>Stores or replaces a topic's retained message, as PUT /api/v1/retained/{topic}.</summary>
    public async Task<ActionOutcome> SetRetainedAsync(string broker, string? topic, SetRetainedRequest request)
    {
        return await RunAsAdminAsync(Api("PUT", $"/retained/{topic}", OfBroker(broker)), async () =>
            FromApi(await RetainedApi.Set(registry, topic ?? string.Empty, request, broker), $"Kept the retained message of '{topic}'."));
    }

    /// <summary>Removes a topic's retained message, as DELETE /api/v1/retained/{topic}; one already gone counts as deleted.</summary>
    public async Task<ActionOutcome> DeleteRetainedAsync(string broker, string topic)
    {
        return await RunAsAdminAsync(Api("DELETE", $"/retained/{topic}", OfBroker(broker)), async () =>
            AlreadyDone(FromApi(await RetainedApi.Delete(registry, topic, broker), $"Deleted the retained message of '{topic}'."),
                $"The retained message of '{topic}' was already deleted."));
    }

    /// <summary>Removes every retained message matching a topic filter, as DELETE /api/v1/retained?topicFilter=; written once to the audit log.</summary>
    public async Task<ActionOutcome> DeleteRetainedMatchingAsync(string broker, string topicFilter)
    {
        return await RunAsAdminAsync(Api("DELETE", "/retained", QueryString.Create("topicFilter", topicFilter) + OfBroker(broker)), async () =>
        {
            var result = await RetainedApi.DeleteMatching(registry, broker, topicFilter);
            var deleted = Unwrap(result) is Ok<DeletedRetained> ok ? ok.Value!.Deleted : 0;
            return FromApi(result, $"Deleted {deleted} retained message(s) matching '{topicFilter}'.");
        });
    }
}
