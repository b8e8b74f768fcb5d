using System.ComponentModel;
using IoTHub.Broker;
using IoTHub.Mqtt;
using IoTHub.Web.Api.Sessions;
using IoTHub.Web.Auth;
using IoTHub.Web.Mqtt;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Subscriptions;

/// <summary>One subscription of a session.</summary>
/// <param name="Broker">The broker that holds it.</param>
/// <param name="ClientId">The client whose session has it.</param>
/// <param name="TopicFilter">Its topic filter, with $share/{group}/ for a shared subscription.</param>
/// <param name="Qos">The granted maximum QoS: 0, 1 or 2.</param>
/// <param name="NoLocal">MQTT 5.0: the client's own messages are not sent back to it.</param>
/// <param name="RetainAsPublished">MQTT 5.0: forwarded messages keep their RETAIN flag.</param>
/// <param name="RetainHandling">MQTT 5.0: when retained messages are sent at subscribe.</param>
/// <param name="SubscriptionIdentifier">MQTT 5.0 subscription identifier; 0 when none.</param>
internal sealed record SubscriptionInfo(string Broker, string ClientId, string TopicFilter, int Qos, bool NoLocal, bool RetainAsPublished,
    RetainHandling RetainHandling, uint SubscriptionIdentifier)
{
    public static SubscriptionInfo From(string broker, SubscriptionSnapshot s) =>
        new(broker, s.ClientId, s.TopicFilter, (int)s.Options.QualityOfService, s.Options.NoLocal, s.Options.RetainAsPublished, s.Options.RetainHandling,
            s.SubscriptionId);
}

/// <summary>A subscription to add on a client's behalf.</summary>
/// <param name="ClientId">The client whose (existing) session gets the subscription.</param>
/// <param name="TopicFilter">The topic filter; wildcards and $share/{group}/ allowed.</param>
/// <param name="Qos">Maximum QoS: 0, 1 or 2 (capped by the broker's Mqtt:MaximumQoS).</param>
/// <param name="NoLocal">MQTT 5.0: the client's own messages are not sent back to it.</param>
/// <param name="RetainAsPublished">MQTT 5.0: forwarded messages keep their RETAIN flag.</param>
/// <param name="RetainHandling">Whether matching retained messages are delivered now: SendAtSubscribe, SendAtSubscribeIfNew or DoNotSend.</param>
/// <param name="Broker">The broker; the default broker when absent.</param>
internal sealed record AddSubscriptionRequest(string? ClientId, string? TopicFilter, int Qos = 0, bool NoLocal = false, bool RetainAsPublished = false,
    RetainHandling RetainHandling = RetainHandling.SendAtSubscribe, string? Broker = null);

/// <summary>/api/v1/subscriptions: list by client or filter; add or remove on a client's behalf.</summary>
internal static class SubscriptionsApi
{
    public static IEndpointRouteBuilder MapSubscriptionsApi(this IEndpointRouteBuilder api)
    {
        var subscriptions = api.MapGroup("/subscriptions").WithTags("Subscriptions");
        subscriptions.MapGet("/", List).WithName("ListSubscriptions")
            .WithSummary("Lists subscriptions, by client (exact id or substring) or by topic filter, ordered by client id or topic filter.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        subscriptions.MapPost("/", Add).WithName("AddSubscription")
            .WithSummary("Subscribes a client's session as if it had sent SUBSCRIBE; matching retained messages are delivered.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        subscriptions.MapDelete("/", Remove).WithName("RemoveSubscription")
            .WithSummary("Removes a subscription as if its client had sent UNSUBSCRIBE.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static Results<Ok<ResultPage<SubscriptionInfo>>, ValidationProblem, ProblemHttpResult> List(BrokerRegistry registry, [AsParameters] PageQuery paging,
        [AsParameters] SubscriptionListQuery query, [Description(BrokerLookup.ListDescription)] string? broker = null)
    {
        var errors = new ValidationErrors();
        query.Validate(errors);
        return registry.PageAcross(broker, paging, errors, brokers => query.Page(brokers, paging));
    }

    internal static Results<Created<SubscriptionInfo>, ValidationProblem, ProblemHttpResult> Add(BrokerRegistry registry, AddSubscriptionRequest request)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrEmpty(request.ClientId))
        {
            errors.Add("clientId", "is required.");
        }

        if (string.IsNullOrEmpty(request.TopicFilter))
        {
            errors.Add("topicFilter", "is required.");
        }

        if (request.Qos is < 0 or > 2)
        {
            errors.Add("qos", "must be 0, 1 or 2.");
        }

        if (!Enum.IsDefined(request.RetainHandling))
        {
            errors.Add("retainHandling", "must be SendAtSubscribe, SendAtSubscribeIfNew or DoNotSend.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        if (!registry.TryFind(request.Broker, out var name, out var broker, out var problem))
        {
            return problem;
        }

        var options = new SubscriptionOptions((QualityOfService)request.Qos, request.NoLocal, request.RetainAsPublished, request.RetainHandling);
        switch (broker.Subscribe(request.ClientId!, request.TopicFilter!, options))
        {
            case AdminSubscribeResult.NoSuchSession:
                return ApiProblems.NotFound($"Broker '{name}' has no session for client '{request.ClientId}'.");
            case AdminSubscribeResult.InvalidFilter:
                errors.Add("topicFilter", "is not a valid topic filter for this broker (wildcards, length, levels).");
                return errors.ToResult();
            case AdminSubscribeResult.QuotaExceeded:
                errors.Add("topicFilter", $"would exceed the client's limit of {broker.Options.MaximumSubscriptionsPerClient} subscriptions.");
                return errors.ToResult();
        }

        var created = broker.GetSubscriptions(request.ClientId)?.Where(s => s.TopicFilter == request.TopicFilter).Select(static s => (SubscriptionSnapshot?)s)
            .FirstOrDefault();
        var info = created is { } subscription
            ? SubscriptionInfo.From(name, subscription)
            : new SubscriptionInfo(name, request.ClientId!, request.TopicFilter!, request.Qos, request.NoLocal, request.RetainAsPublished, request.RetainHandling, 0);
        return TypedResults.Created(
            $"/api/v1/subscriptions?broker={Uri.EscapeDataString(name)}&clientId={Uri.EscapeDataString(info.ClientId)}&topicFilter={Uri.EscapeDataString(info.TopicFilter)}",
            info);
    }

    private static Results<NoContent, ValidationProblem, ProblemHttpResult> Remove(BrokerRegistry registry,
        [Description("The client whose subscription is removed.")] string? clientId,
        [Description("The topic filter to remove, exactly as subscribed.")] string? topicFilter,
        [Description(BrokerLookup.Description)] string? broker = null)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrEmpty(clientId))
        {
            errors.Add("clientId", "is required.");
        }

        if (string.IsNullOrEmpty(topicFilter))
        {
            errors.Add("topicFilter", "is required.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        if (!registry.TryFind(broker, out var name, out var found, out var problem))
        {
            return problem;
        }

        return found.Unsubscribe(clientId!, topicFilter!)
            ? TypedResults.NoContent()
            : ApiProblems.NotFound($"Client '{clientId}' of broker '{name}' has no subscription '{topicFilter}'.");
    }
}
