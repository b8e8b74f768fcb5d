using IoTHub.Web.Alarms;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Alarms;

/// <summary>The alarms: those active, and the last cleared ones.</summary>
/// <param name="Active">Active alarms, oldest first.</param>
/// <param name="History">The last 100 cleared alarms, the last cleared first.</param>
internal sealed record AlarmList(IReadOnlyList<Alarm> Active, IReadOnlyList<Alarm> History);

/// <summary>GET /api/v1/alarms.</summary>
internal static class AlarmsApi
{
    public static IEndpointRouteBuilder MapAlarmsApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/alarms", static (AlarmBoard alarms) => TypedResults.Ok(new AlarmList(alarms.Active, alarms.History)))
            .WithTags("Alarms").WithName("ListAlarms")
            .WithSummary("Alarms raised and cleared by the server, checked every 10 seconds: connections_high (a broker at 90 % of Mqtt:MaximumConnections), " +
                "session_queue_high (sessions at 90 % of Mqtt:MaximumQueuedMessages), storage_write_errors, certificate_expiring (a listener certificate " +
                "that expires within 14 days), authentication_backend_failing (an authenticator's backend fails or does not answer in time). " +
                "Active ones and the last 100 cleared.");
        return api;
    }
}
