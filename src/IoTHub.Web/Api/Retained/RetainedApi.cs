using System.ComponentModel;
using IoTHub.Broker.Messages;
using IoTHub.Mqtt;
using IoTHub.Web.Api.Publish;
using IoTHub.Web.Auth;
using IoTHub.Web.Mqtt;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Retained;

/// <summary>The retained message to keep for a topic.</summary>
/// <param name="Payload">The payload: text, or base64 when <paramref name="Encoding"/> is Base64. Must not be empty.</param>
/// <param name="Encoding">Text (UTF-8) or Base64.</param>
/// <param name="Qos">The QoS it is delivered with (at most the subscription's): 0, 1 or 2.</param>
/// <param name="Properties">MQTT 5.0 properties.</param>
internal sealed record SetRetainedRequest(string? Payload, PayloadEncoding Encoding = PayloadEncoding.Text, int Qos = 0, MessageProperties? Properties = null);

/// <summary>/api/v1/retained: list by topic filter, get, set, delete.</summary>
internal static class RetainedApi
{
    private const string TopicDescription = "The topic: the rest of the path, percent-encoded where needed (a slash as / or %2F, # as %23); " +
        "or, with nothing after /retained, the query parameter topic.";

    public static IEndpointRouteBuilder MapRetainedApi(this IEndpointRouteBuilder api)
    {
        var retained = api.MapGroup("/retained").WithTags("Retained messages");
        retained.MapGet("/", List).WithName("ListRetained").WithSummary("Lists retained messages whose topic matches a topic filter.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        retained.MapGet("/{**topic}", Get).WithName("GetRetained").WithSummary("The retained message of a topic (the rest of the path is the topic).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        retained.MapPut("/{**topic}", Set).WithName("SetRetained")
            .WithSummary("Stores or replaces a topic's retained message; it is not delivered to current subscribers (use POST /api/v1/publish with retain for that).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        retained.MapDelete("/{**topic}", Delete).WithName("DeleteRetained").WithSummary("Removes a topic's retained message.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static Results<Ok<ResultPage<RetainedMessageInfo>>, ValidationProblem, ProblemHttpResult> List(BrokerRegistry registry, [AsParameters] PageQuery paging,
        [Description(BrokerLookup.ListDescription)] string? broker = null,
        [Description("MQTT topic filter, wildcards allowed (default #: every topic not starting with $).")] string? topicFilter = null)
    {
        var errors = new ValidationErrors();
        var filter = topicFilter ?? "#";
        if (!TopicRules.IsValidTopicFilter(filter))
        {
            errors.Add("topicFilter", "is not a valid MQTT topic filter.");
        }

        return registry.PageAcross(broker, paging, errors, brokers => brokers
            .SelectMany(b => b.Value.GetRetained(filter).Select(m => RetainedMessageInfo.From(b.Key, m)))
            .OrderBy(static m => m.Broker, StringComparer.Ordinal).ThenBy(static m => m.Topic, StringComparer.Ordinal));
    }

    private static Results<Ok<RetainedMessageInfo>, ProblemHttpResult> Get(BrokerRegistry registry, [Description(TopicDescription)] string topic,
        [Description(BrokerLookup.Description)] string? broker = null)
    {
        if (!registry.TryFind(broker, out var name, out var found, out var problem))
        {
            return problem;
        }

        return TopicRules.IsValidTopicName(topic) && found.GetRetained(topic) is [var message]
            ? TypedResults.Ok(RetainedMessageInfo.From(name, message))
            : ApiProblems.NotFound($"Broker '{name}' has no retained message for topic '{topic}'.");
    }

    private static async Task<Results<Ok<RetainedMessageInfo>, ValidationProblem, ProblemHttpResult>> Set(BrokerRegistry registry, [Description(TopicDescription)] string topic,
        SetRetainedRequest request, [Description(BrokerLookup.Description)] string? broker = null)
    {
        if (!registry.TryFind(broker, out var name, out var found, out var problem))
        {
            return problem;
        }

        var errors = new ValidationErrors();
        MessageContent.ValidateTopic(topic, found, errors);
        if (string.IsNullOrEmpty(request.Payload))
        {
            errors.Add("payload", "must not be empty (an empty retained message is a deletion: use DELETE).");
        }

        if (!found.Options.RetainAvailable)
        {
            errors.Add("topic", "this broker keeps no retained messages (Mqtt:RetainAvailable is false).");
        }

        var message = MessageContent.Build(topic, request.Payload, request.Encoding, request.Qos, retain: true, request.Properties, found, errors);
        if (message is null)
        {
            return errors.ToResult();
        }

        // Kept the way a retained PUBLISH from a client is kept, storage included (not delivered: see the summary); answered once stored.
        return await StoredAsync(found.SetRetainedAsync(message)) is { } failure ? failure : TypedResults.Ok(RetainedMessageInfo.From(name, message));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(BrokerRegistry registry, [Description(TopicDescription)] string topic,
        [Description(BrokerLookup.Description)] string? broker = null)
    {
        if (!registry.TryFind(broker, out var name, out var found, out var problem))
        {
            return problem;
        }

        if (!TopicRules.IsValidTopicName(topic) || found.GetRetained(topic) is [])
        {
            return ApiProblems.NotFound($"Broker '{name}' has no retained message for topic '{topic}'.");
        }

        // An empty retained message deletes the topic's one [MQTT-3.3.1-10], in storage too, as from a client.
        var deleted = found.SetRetainedAsync(MqttMessage.Create(topic, [], QualityOfService.AtMostOnce, retain: true));
        return await StoredAsync(deleted) is { } failure ? failure : TypedResults.NoContent();
    }

    /// <summary>Null once the change is stored; a 503 problem when storage failed (the change holds in memory until a restart).</summary>
    private static async Task<ProblemHttpResult?> StoredAsync(Task commit)
    {
        try
        {
            await commit;
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return TypedResults.Problem($"The change could not be stored ({ex.Message}); it holds until the broker restarts.",
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }
}
