using System.ComponentModel;
using IoTHub.Broker;
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

/// <summary>What a delete by topic filter did.</summary>
/// <param name="Deleted">Retained messages it removed.</param>
internal sealed record DeletedRetained(int Deleted);

/// <summary>/api/v1/retained: list by topic filter, get, set, delete; the dashboard's Retained page runs the same handlers.</summary>
internal static class RetainedApi
{
    private const string TopicInsteadOfFilter = "A topic name instead of a filter: only that topic's retained message.";

    private const string TopicDescription = "The topic: the rest of the path, percent-encoded where needed (a slash as / or %2F, # as %23); " +
        "or, with nothing after /retained, the query parameter topic (PUT only: GET and DELETE /api/v1/retained?topic= list and delete by filter).";

    public static IEndpointRouteBuilder MapRetainedApi(this IEndpointRouteBuilder api)
    {
        var retained = api.MapGroup("/retained").WithTags("Retained messages");
        retained.MapGet("/", List).WithName("ListRetained").WithSummary("Lists retained messages whose topic matches a topic filter.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        retained.MapDelete("/", DeleteMatching).WithName("DeleteRetainedMatching")
            .WithSummary("Removes every retained message whose topic matches a topic filter (or the one of ?topic=); answers how many.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .RequireAuthorization(AdminRoles.ChangePolicy);
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

    internal static Results<Ok<ResultPage<RetainedMessageInfo>>, ValidationProblem, ProblemHttpResult> List(BrokerRegistry registry, [AsParameters] PageQuery paging,
        [Description(BrokerLookup.ListDescription)] string? broker = null,
        [Description("MQTT topic filter, wildcards allowed (default #: every topic not starting with $).")] string? topicFilter = null,
        [Description(TopicInsteadOfFilter)] string? topic = null)
    {
        var errors = new ValidationErrors();
        var filter = Filter(topicFilter ?? (topic is null ? "#" : null), topic, errors);
        return registry.PageAcross(broker, paging, errors, brokers => brokers
            .SelectMany(b => b.Value.GetRetained(filter).Select(m => RetainedMessageInfo.From(b.Key, m)))
            .OrderBy(static m => m.Broker, StringComparer.Ordinal).ThenBy(static m => m.Topic, StringComparer.Ordinal));
    }

    internal static async Task<Results<Ok<DeletedRetained>, ValidationProblem, ProblemHttpResult>> DeleteMatching(BrokerRegistry registry,
        [Description(BrokerLookup.ListDescription)] string? broker = null,
        [Description("MQTT topic filter, wildcards allowed (# for every topic not starting with $).")] string? topicFilter = null,
        [Description(TopicInsteadOfFilter)] string? topic = null)
    {
        var errors = new ValidationErrors();
        var filter = Filter(topicFilter, topic, errors);
        if (MessageContent.IsSystemTopic(filter))
        {
            errors.Add(topic is null ? "topicFilter" : "topic", MessageContent.SystemTopicRefused);
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        if (!registry.TrySelect(broker, out var brokers, out var problem))
        {
            return problem;
        }

        var deleted = 0;
        foreach (var (_, found) in brokers)
        {
            foreach (var message in found.GetRetained(filter))
            {
                if (await StoredAsync(Deletion(found, message.Topic)) is { } failure)
                {
                    return failure;
                }

                deleted++;
            }
        }

        return TypedResults.Ok(new DeletedRetained(deleted));
    }

    /// <summary>The filter of <paramref name="topicFilter"/> or, instead, of the topic name <paramref name="topic"/> (which matches only itself); one of them is required.</summary>
    private static string Filter(string? topicFilter, string? topic, ValidationErrors errors)
    {
        if (topic is null && topicFilter is null)
        {
            errors.Add("topicFilter", "or topic is required.");
        }
        else if (topic is null && !TopicRules.IsValidTopicFilter(topicFilter!))
        {
            errors.Add("topicFilter", "is not a valid MQTT topic filter.");
        }
        else if (topic is not null && topicFilter is not null)
        {
            errors.Add("topic", "cannot be given with topicFilter.");
        }
        else if (topic is not null && !TopicRules.IsValidTopicName(topic))
        {
            errors.Add("topic", "is not a valid MQTT topic name.");
        }

        return topic ?? topicFilter ?? string.Empty;
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

    internal static async Task<Results<Ok<RetainedMessageInfo>, ValidationProblem, ProblemHttpResult>> Set(BrokerRegistry registry, [Description(TopicDescription)] string topic,
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
        var kept = found.SetRetainedAsync(message);
        return await StoredAsync(kept) is { } failure ? failure : TypedResults.Ok(RetainedMessageInfo.From(name, await kept));
    }

    internal static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> Delete(BrokerRegistry registry, [Description(TopicDescription)] string topic,
        [Description(BrokerLookup.Description)] string? broker = null)
    {
        if (MessageContent.IsSystemTopic(topic))
        {
            var errors = new ValidationErrors();
            errors.Add("topic", MessageContent.SystemTopicRefused);
            return errors.ToResult();
        }

        if (!registry.TryFind(broker, out var name, out var found, out var problem))
        {
            return problem;
        }

        if (!TopicRules.IsValidTopicName(topic) || found.GetRetained(topic) is [])
        {
            return ApiProblems.NotFound($"Broker '{name}' has no retained message for topic '{topic}'.");
        }

        return await StoredAsync(Deletion(found, topic)) is { } failure ? failure : TypedResults.NoContent();
    }

    /// <summary>An empty retained message deletes the topic's one [MQTT-3.3.1-10], in storage too, as from a client.</summary>
    private static Task<MqttMessage> Deletion(MqttBroker broker, string topic) =>
        broker.SetRetainedAsync(MqttMessage.Create(topic, [], QualityOfService.AtMostOnce, retain: true));

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
