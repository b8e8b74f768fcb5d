using IoTHub.Web.Api;
using IoTHub.Web.Audit;
using IoTHub.Web.Configuration;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Dashboard;

/// <summary>Actions that run the API's own handlers, so that the dashboard and the API check and answer alike.</summary>
internal sealed partial class DashboardActions
{
    /// <summary>An API handler's answer for the page: its status for the audit log, and its problem's detail and errors by field when it refused.</summary>
    private static (int Status, ActionOutcome Outcome) FromApi(object result, string done) =>
        (Unwrap(result) is IStatusCodeHttpResult { StatusCode: { } code } ? code : StatusCodes.Status200OK, Unwrap(result)) switch
        {
            (var status, ValidationProblem invalid) => (status, new ActionOutcome(false, invalid.ProblemDetails.Detail!,
                invalid.ProblemDetails.Errors.ToDictionary(static e => e.Key, static e => string.Join(" ", e.Value), StringComparer.Ordinal))),
            (var status, ProblemHttpResult problem) => (status, new ActionOutcome(false, problem.ProblemDetails.Detail!)),
            (var status, _) => (status, new ActionOutcome(true, done)),
        };

    /// <summary>A 404 of a delete: what was to be removed is gone (a second click, another admin), so the outcome is done.</summary>
    private static (int Status, ActionOutcome Outcome) AlreadyDone((int Status, ActionOutcome Outcome) answer, string done) =>
        answer.Status == StatusCodes.Status404NotFound ? (answer.Status, new ActionOutcome(true, done)) : answer;

    /// <summary>
    /// The audit log's action for a change the dashboard makes: the request line that makes the same change through the API
    /// (<paramref name="path"/> under /api/v1), so that one search finds it made either way.
    /// </summary>
    private static string Api(string method, string path, QueryString query = default) => AdminAudit.Action(method, AdminApi.Prefix + path, query);

    /// <summary>The broker query parameter as an API client writes it: left out for the default broker.</summary>
    private static QueryString OfBroker(string broker) =>
        string.Equals(broker, MqttOptions.DefaultBrokerName, StringComparison.OrdinalIgnoreCase) ? QueryString.Empty : QueryString.Create("broker", broker);

    /// <summary>The result a handler chose: Results&lt;A, B&gt; wraps it.</summary>
    private static object? Unwrap(object result) => result is INestedHttpResult nested ? nested.Result : result;
}
