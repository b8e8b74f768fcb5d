using IoTHub.Web.Auth;
using IoTHub.Web.Mqtt;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Publish;

/// <summary>A message to publish as the server.</summary>
/// <param name="Topic">Topic name, without wildcards.</param>
/// <param name="Payload">The payload: text, or base64 when <paramref name="Encoding"/> is Base64. Empty when absent.</param>
/// <param name="Encoding">Text (UTF-8) or Base64.</param>
/// <param name="Qos">0, 1 or 2 (at most the broker's Mqtt:MaximumQoS).</param>
/// <param name="Retain">Also keep it as the topic's retained message (an empty payload deletes that).</param>
/// <param name="Properties">MQTT 5.0 properties.</param>
/// <param name="Broker">The broker; the default broker when absent.</param>
internal sealed record PublishRequest(string? Topic, string? Payload = null, PayloadEncoding Encoding = PayloadEncoding.Text, int Qos = 0,
    bool Retain = false, MessageProperties? Properties = null, string? Broker = null);

/// <summary>What a publish did.</summary>
/// <param name="Broker">The broker it was published on.</param>
/// <param name="Topic">Its topic.</param>
/// <param name="SubscribersReached">Sessions the message was handed to.</param>
internal sealed record PublishResult(string Broker, string Topic, int SubscribersReached);

/// <summary>POST /api/v1/publish.</summary>
internal static class PublishApi
{
    public static IEndpointRouteBuilder MapPublishApi(this IEndpointRouteBuilder api)
    {
        api.MapPost("/publish", Publish).WithTags("Publish").WithName("Publish")
            .WithSummary("Publishes a message as the server, to every matching subscriber (and as retained when asked).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static Results<Ok<PublishResult>, ValidationProblem, ProblemHttpResult> Publish(BrokerRegistry registry, PublishRequest request)
    {
        if (!registry.TryFind(request.Broker, out var name, out var broker, out var problem))
        {
            return problem;
        }

        var errors = new ValidationErrors();
        var message = MessageContent.BuildPublish(request, broker, errors);
        if (message is null)
        {
            return errors.ToResult();
        }

        return TypedResults.Ok(new PublishResult(name, message.Topic, broker.Publish(message)));
    }
}
