using System.Text.Json;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Backends;
using IoTHub.Broker.Security.Roles;
using IoTHub.Mqtt;

namespace IoTHub.Web.Security;

/// <summary>
/// The access rules an authentication answer carries in EMQX's list form (a webhook's <c>acl</c>, a token's <c>acl</c>
/// claim; docs/security.md#access-rules-from-an-authenticator), as the client's own <see cref="AclRule"/>s:
/// <c>{"permission":"allow"|"deny","action":"publish"|"subscribe"|"all","topic":"t/${clientid}/#"}</c>, or
/// <c>"topics":[...]</c> for several. <c>${username}</c>, <c>${clientid}</c> and <c>${cert_common_name}</c> stand for
/// the client's values; a topic that starts with <c>eq </c> is matched as it is written. Anything else (another field,
/// such as EMQX's <c>qos</c> and <c>retain</c> conditions, which this broker does not check, a bad topic filter, an unknown
/// placeholder) makes the answer a failure of the backend: a rule read only in part would grant or deny what was not meant.
/// </summary>
internal static class EmqxAcl
{
    private const string ExactPrefix = "eq ";

    private static readonly (string Emqx, string Ours)[] Placeholders = [("${username}", "%u"), ("${clientid}", "%c"), ("${cert_common_name}", "${cert_cn}")];

    /// <summary>The rules of <paramref name="entries"/>; <paramref name="source"/> names them in the audit (e.g. <c>webhook acl</c>).</summary>
    /// <exception cref="AuthenticationBackendException">An entry is not such a rule; the message says which and why.</exception>
    public static IReadOnlyList<AclRule> Read(IEnumerable<JsonElement> entries, string? userName, string source)
    {
        List<AclRule> rules = [];
        var index = 0;
        foreach (var entry in entries)
        {
            var name = $"{source}[{index++}]";
            if (entry.ValueKind != JsonValueKind.Object)
            {
                throw Bad(name, "is not an object");
            }

            bool? allow = null;
            AclAction? action = null;
            List<string> topics = [];
            foreach (var field in entry.EnumerateObject())
            {
                switch (field.Name)
                {
                    case "permission":
                        allow = Text(field, name) switch { "allow" => true, "deny" => false, _ => throw Bad(name, "has a permission other than allow or deny") };
                        break;
                    case "action":
                        action = Text(field, name) switch
                        {
                            "publish" or "pub" => AclAction.Publish,
                            "subscribe" or "sub" => AclAction.Subscribe,
                            "all" => AclAction.Both,
                            _ => throw Bad(name, "has an action other than publish, subscribe or all"),
                        };
                        break;
                    case "topic":
                        topics.Add(Text(field, name));
                        break;
                    case "topics":
                        foreach (var topic in field.Value.ValueKind == JsonValueKind.Array ? field.Value.EnumerateArray() : throw Bad(name, "has topics that are not a list"))
                        {
                            topics.Add(topic.ValueKind == JsonValueKind.String ? topic.GetString()! : throw Bad(name, "has a topics entry that is not a string"));
                        }

                        break;
                    default:
                        throw Bad(name, $"has the field '{field.Name}' (permission, action and topic or topics are read; qos and retain conditions are not supported)");
                }
            }

            if (allow is null || action is null || topics.Count == 0)
            {
                throw Bad(name, "lacks permission, action or topic");
            }

            foreach (var topic in topics)
            {
                rules.Add(Rule(allow.Value, action.Value, topic, userName, name));
            }
        }

        return rules;
    }

    private static AclRule Rule(bool allow, AclAction action, string topic, string? userName, string name)
    {
        var exact = topic.StartsWith(ExactPrefix, StringComparison.Ordinal);
        var filter = exact ? topic[ExactPrefix.Length..] : topic;
        if (!exact)
        {
            var unknown = filter;
            foreach (var (emqx, ours) in Placeholders)
            {
                (filter, unknown) = (filter.Replace(emqx, ours, StringComparison.Ordinal), unknown.Replace(emqx, string.Empty, StringComparison.Ordinal));
            }

            if (unknown.Contains("${", StringComparison.Ordinal))
            {
                throw Bad(name, $"has the topic '{topic}' with a placeholder other than ${{username}}, ${{clientid}} and ${{cert_common_name}}");
            }
        }

        if (!TopicRules.IsValidTopicFilter(filter) || filter.StartsWith(TopicRules.SharePrefix, StringComparison.Ordinal))
        {
            throw Bad(name, $"has the topic '{topic}', which is not a valid topic filter");
        }

        return new AclRule(allow, action, filter, AclScope.User, userName, Pattern: !exact && StoredAclRule.HoldsPlaceholders(filter), Source: name, Exact: exact);
    }

    private static string Text(JsonProperty field, string name) =>
        field.Value.ValueKind == JsonValueKind.String ? field.Value.GetString()! : throw Bad(name, $"has a {field.Name} that is not a string");

    private static AuthenticationBackendException Bad(string name, string problem) => new($"{name} is not an access rule of EMQX's form: it {problem}");
}
