using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace IoTHub.Web.Api;

/// <summary>
/// What was wrong with a request the framework could not bind, by field and without .NET type names:
/// the framework's own messages name parameters by their .NET type ("Nullable&lt;int&gt; Page").
/// </summary>
internal static partial class UnboundRequest
{
    /// <summary>The field at fault (null when the fault is not one field's) and what is wrong with it.</summary>
    public readonly record struct Error(string? Field, string Message);

    private const string Body = "body";

    public static Error Describe(BadHttpRequestException bad, HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (bad.InnerException is JsonException json)
        {
            return DescribeJson(json, endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType,
                context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions);
        }

        if (FailedToBind().Match(bad.Message) is { Success: true } failed)
        {
            var (field, type) = Parameter(endpoint, failed.Groups["name"].Value);
            return new Error(field, $"must be {Expected(type)} (got '{failed.Groups["value"].Value}').");
        }

        return bad.Message.StartsWith("Implicit body inferred", StringComparison.Ordinal)
            ? new Error(Body, "is required (a JSON object).")
            : new Error(null, bad.Message);
    }

    private static Error DescribeJson(JsonException json, Type? bodyType, JsonSerializerOptions options)
    {
        // A reader error (not JSON at all) carries the reader's exception; a value that does not fit the request does not.
        if (json.InnerException is JsonException || json.Path is not { } path || bodyType is null)
        {
            return new Error(Body, $"is not valid JSON (line {(json.LineNumber ?? 0) + 1}, byte {(json.BytePositionInLine ?? 0) + 1}).");
        }

        var field = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        var info = options.GetTypeInfo(bodyType);
        foreach (Match segment in PathSegment().Matches(path))
        {
            if (segment.Groups["index"].Success || info.Kind == JsonTypeInfoKind.Dictionary)
            {
                info = options.GetTypeInfo(info.ElementType ?? typeof(object));
                continue;
            }

            var name = segment.Groups["name"].Success ? segment.Groups["name"].Value : segment.Groups["quoted"].Value;
            var property = info.Properties.FirstOrDefault(p => string.Equals(p.Name, name, options.PropertyNameCaseInsensitive
                ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal));
            if (property is null)
            {
                return new Error(field, $"is not a field of this request; its fields are {string.Join(", ", info.Properties.Select(static p => p.Name))}.");
            }

            info = options.GetTypeInfo(property.PropertyType);
        }

        return new Error(field, $"must be {Expected(info.Type)}.");
    }

    /// <summary>The name under which a handler parameter (or a property of an [AsParameters] one) is sent, and its type.</summary>
    private static (string Field, Type? Type) Parameter(Endpoint? endpoint, string name)
    {
        foreach (var parameter in endpoint?.Metadata.GetMetadata<MethodInfo>()?.GetParameters() ?? [])
        {
            IEnumerable<(string? Name, Type Type, string? SentAs)> candidates = parameter.GetCustomAttribute<AsParametersAttribute>() is null
                ? [(parameter.Name, parameter.ParameterType, parameter.GetCustomAttribute<FromQueryAttribute>()?.Name)]
                : parameter.ParameterType.GetProperties().Select(static p => ((string?)p.Name, p.PropertyType, p.GetCustomAttribute<FromQueryAttribute>()?.Name));
            foreach (var (candidate, type, sentAs) in candidates)
            {
                if (candidate == name)
                {
                    return (sentAs ?? JsonNamingPolicy.CamelCase.ConvertName(name), type);
                }
            }
        }

        return (JsonNamingPolicy.CamelCase.ConvertName(name), null);
    }

    /// <summary>What a value of <paramref name="type"/> looks like, in words.</summary>
    private static string Expected(Type? type)
    {
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            null => "a valid value",
            { IsEnum: true } => $"one of {string.Join(", ", Enum.GetNames(type))}",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(string) => "a string",
            _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "a date and time (ISO 8601, e.g. 2026-01-31T12:00:00Z)",
            _ when type == typeof(int) || type == typeof(long) || type == typeof(short) || type == typeof(byte) || type == typeof(uint) || type == typeof(ushort) =>
                "a whole number",
            _ when typeof(System.Collections.IEnumerable).IsAssignableFrom(type) => "an array",
            _ => "an object",
        };
    }

    [GeneratedRegex("""^Failed to bind parameter "[^"]* (?<name>\w+)" from "(?<value>.*)"\.$""", RegexOptions.CultureInvariant | RegexOptions.Singleline)]
    private static partial Regex FailedToBind();

    /// <summary>The steps of a JSON path after its root: <c>.name</c>, <c>['name']</c> or <c>[0]</c>.</summary>
    [GeneratedRegex("""\.(?<name>[^.\[]+)|\['(?<quoted>(?:[^']|'')*)'\]|\[(?<index>\d+)\]""", RegexOptions.CultureInvariant)]
    private static partial Regex PathSegment();
}
