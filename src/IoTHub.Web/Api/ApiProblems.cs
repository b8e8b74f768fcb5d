using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api;

/// <summary>The validation errors of one request, by field; answered as a 400 ProblemDetails.</summary>
internal sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var messages))
        {
            _errors[field] = messages = [];
        }

        messages.Add(message);
    }

    /// <summary>A name (user name, pattern): 1 to 256 characters without control characters.</summary>
    public void CheckName(string field, string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 256 || value.Any(char.IsControl))
        {
            Add(field, "must be 1 to 256 characters without control characters.");
        }
    }

    /// <summary>The errors of each field in one line, e.g. topicFilter: "is required.", for a form to show next to its fields.</summary>
    public IReadOnlyDictionary<string, string> ByField => _errors.ToDictionary(static e => e.Key, static e => string.Join(" ", e.Value), StringComparer.Ordinal);

    /// <summary>Every error in one sentence per error, e.g. "topic is required.".</summary>
    public string Summary => string.Join(" ", _errors.SelectMany(static e => e.Value.Select(m => $"{e.Key} {m}")));

    public ValidationProblem ToResult() =>
        TypedResults.ValidationProblem(_errors.ToDictionary(static e => e.Key, static e => e.Value.ToArray()), detail: Summary);
}

/// <summary>ProblemDetails answers other than validation; their titles are the status's own (<see cref="BadRequests"/>).</summary>
internal static class ApiProblems
{
    public static ProblemHttpResult NotFound(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound);

    public static ProblemHttpResult Conflict(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict);
}
