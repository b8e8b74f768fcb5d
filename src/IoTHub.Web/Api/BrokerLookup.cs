using System.Diagnostics.CodeAnalysis;
using IoTHub.Broker;
using IoTHub.Web.Api.Sessions;
using IoTHub.Web.Configuration;
using IoTHub.Web.Mqtt;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api;

/// <summary>The <c>broker</c> query parameter: a broker's name, "default" when absent.</summary>
internal static class BrokerLookup
{
    public const string Description = "The broker's name (see GET /api/v1/brokers); the default broker when absent.";
    public const string ListDescription = "Only this broker (see GET /api/v1/brokers); every broker when absent.";

    /// <summary>The named broker, or a 404 problem naming the brokers there are.</summary>
    public static bool TryFind(this BrokerRegistry registry, string? name, out string resolved, [NotNullWhen(true)] out MqttBroker? broker,
        [NotNullWhen(false)] out ProblemHttpResult? problem)
    {
        var wanted = string.IsNullOrEmpty(name) ? MqttOptions.DefaultBrokerName : name;
        resolved = wanted;
        if (registry.Brokers.TryGetValue(wanted, out broker))
        {
            // The name as configured, whatever the case asked for.
            resolved = registry.Brokers.Keys.First(k => string.Equals(k, wanted, StringComparison.OrdinalIgnoreCase));
            problem = null;
            return true;
        }

        problem = ApiProblems.NotFound($"There is no broker '{resolved}' (brokers: {string.Join(", ", registry.Brokers.Keys)}).");
        return false;
    }

    /// <summary>The brokers a list covers: the named one (a 404 problem when unknown), or all.</summary>
    public static bool TrySelect(this BrokerRegistry registry, string? name, out IEnumerable<KeyValuePair<string, MqttBroker>> brokers,
        [NotNullWhen(false)] out ProblemHttpResult? problem)
    {
        if (string.IsNullOrEmpty(name))
        {
            brokers = registry.Brokers;
            problem = null;
            return true;
        }

        if (registry.TryFind(name, out var resolved, out var broker, out problem))
        {
            brokers = [new(resolved, broker)];
            return true;
        }

        brokers = [];
        return false;
    }

    /// <summary>
    /// One page of a list over the selected brokers: 400 when the paging or <paramref name="errors"/>
    /// (the caller's own checks) has problems, 404 for an unknown broker.
    /// </summary>
    /// <param name="registry">The brokers.</param>
    /// <param name="broker">The broker to list, or null for all.</param>
    /// <param name="paging">The page asked for.</param>
    /// <param name="errors">What the caller found wrong with its own parameters.</param>
    /// <param name="query">Filters and orders the items of the selected brokers.</param>
    public static Results<Ok<ResultPage<T>>, ValidationProblem, ProblemHttpResult> PageAcross<T>(this BrokerRegistry registry, string? broker, PageQuery paging,
        ValidationErrors errors, Func<IEnumerable<KeyValuePair<string, MqttBroker>>, IEnumerable<T>> query) =>
        registry.PageAcross(broker, paging, errors, brokers => paging.Apply(query(brokers)));

    /// <summary>The same for a list that makes its page itself (<paramref name="page"/>), from the selected brokers.</summary>
    public static Results<Ok<ResultPage<T>>, ValidationProblem, ProblemHttpResult> PageAcross<T>(this BrokerRegistry registry, string? broker, PageQuery paging,
        ValidationErrors errors, Func<IEnumerable<KeyValuePair<string, MqttBroker>>, ResultPage<T>> page)
    {
        paging.Validate(errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        return registry.TrySelect(broker, out var brokers, out var problem) ? TypedResults.Ok(page(brokers)) : problem;
    }

    /// <summary>One page of a list of sessions (or clients) over the selected brokers, each made into <typeparamref name="T"/>: 400 for bad paging or criteria, 404 for an unknown broker.</summary>
    public static Results<Ok<ResultPage<T>>, ValidationProblem, ProblemHttpResult> PageSessions<T>(this BrokerRegistry registry, string? broker, PageQuery paging,
        SessionListQuery query, Func<BrokerSession, T> map)
    {
        var errors = new ValidationErrors();
        query.Validate(errors);
        return registry.PageAcross(broker, paging, errors, brokers => query.Page(brokers, paging).Map(map));
    }
}
