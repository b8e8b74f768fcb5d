using IoTHub.Broker.Routing;
using IoTHub.Broker.Security.Authorization;

namespace IoTHub.Broker.Tests.Security.Authorization;

/// <summary>
/// The compiled rules (issue 17): "filter covers filter" checked exhaustively against its meaning, and the trie checked
/// against <see cref="ReferenceAcl"/> on random rules, identities and topics.
/// </summary>
public sealed class AclMatcherTests
{
    private static readonly AclIdentity Alice = new("alice", "dev-1", "alice.example");

    /// <summary>
    /// Every pair of filters of up to 3 levels over a, b, $s, + and #: a rule grants a subscription exactly when every
    /// topic (up to 4 levels over a, b, c and $s, so deeper and unnamed levels are tried) the filter matches, the rule
    /// matches too ([MQTT-4.7.1-1], [MQTT-4.7.1-2], and [MQTT-4.7.2-1] for '$' topics).
    /// </summary>
    [Fact]
    public void A_rule_grants_a_subscription_exactly_when_it_covers_every_topic_of_the_filter()
    {
        var filters = Sequences(["a", "b", "$s", "+", "#"], 3).Where(static f => IoTHub.Mqtt.TopicRules.IsValidTopicFilter(f)).ToList();
        var topics = Sequences(["a", "b", "c", "$s"], 4).ToList();
        var checkedPairs = 0;
        var covering = 0;
        foreach (var rule in filters)
        {
            var rules = new AclRuleSet([new AclRule(true, AclAction.Subscribe, rule, AclScope.Everyone)], defaultAllow: false, version: 1);
            foreach (var filter in filters)
            {
                var covers = topics.All(topic => !TopicFilter.Matches(filter, topic) || TopicFilter.Matches(rule, topic));
                Assert.True(covers == rules.Allows(Alice, AclAction.Subscribe, filter, isFilter: true), $"rule '{rule}' and filter '{filter}': covers is {covers}");
                Assert.Equal(covers, ReferenceAcl.Covers(rule, filter));
                checkedPairs++;
                covering += covers ? 1 : 0;
            }
        }

        Assert.True(checkedPairs > 10_000 && covering > 500, $"{checkedPairs} pairs, {covering} covering");
        var examples = new AclRuleSet([new AclRule(true, AclAction.Subscribe, "devices/+/telemetry", AclScope.Everyone)], false, 1);
        Assert.False(examples.Allows(Alice, AclAction.Subscribe, "#", isFilter: true));
        Assert.True(new AclRuleSet([new AclRule(true, AclAction.Subscribe, "devices/#", AclScope.Everyone)], false, 1)
            .Allows(Alice, AclAction.Subscribe, "devices/+/telemetry", isFilter: true));
    }

    [Fact]
    public void The_compiled_trie_and_a_plain_list_scan_agree_on_random_rules_and_topics()
    {
        const int Seed = 1717;
        var random = new Random(Seed);
        string[] levels = ["a", "b", "c", "+", "#", "%u", "%c", "${cert_cn}", "x%u", "$s"];
        string[] topicLevels = ["a", "b", "c", "alice", "bob", "dev-1", "alice.example", "xalice", "$s", "+", "#"];
        AclIdentity[] who = [Alice, new("bob", "a/b", null), new(null, "dev-1", null), new("a+b", "c", "bob")];
        var cases = 0;
        var allowedCases = 0;
        for (var round = 0; round < 400; round++)
        {
            var rules = new List<AclRule>();
            for (var n = random.Next(1, 30); n > 0; n--)
            {
                var filter = RandomFilter(random, levels);
                var scope = (AclScope)random.Next(3);
                rules.Add(new AclRule(random.Next(3) > 0, (AclAction)random.Next(1, 4), filter, scope,
                    scope == AclScope.User ? (random.Next(2) == 0 ? "alice" : "bob") : null, Pattern: random.Next(2) == 0));
            }

            var defaultAllow = random.Next(2) == 0;
            var set = new AclRuleSet(rules, defaultAllow, 1);
            for (var probe = 0; probe < 100; probe++)
            {
                var identity = who[random.Next(who.Length)];
                var topic = RandomFilter(random, topicLevels);
                var isFilter = topic.Contains('+') || topic.Contains('#');
                var action = isFilter ? AclAction.Subscribe : (AclAction)random.Next(1, 3);
                var expected = ReferenceAcl.Allows(rules, defaultAllow, identity, action, topic);
                Assert.True(expected == set.Allows(identity, action, topic, isFilter),
                    $"seed {Seed} round {round}: {identity} {action} '{topic}' with rules:\n{string.Join('\n', rules)}");
                cases++;
                allowedCases += expected ? 1 : 0;
            }
        }

        // Both answers occur often: the comparison says something.
        Assert.InRange(allowedCases, cases / 10, cases - (cases / 10));
    }

    [Fact]
    public void The_most_specific_scope_decides_and_a_deny_wins_within_it()
    {
        AclRule[] rules =
        [
            new(true, AclAction.Both, "#", AclScope.Everyone),
            new(false, AclAction.Both, "secret/#", AclScope.Everyone),
            new(true, AclAction.Publish, "secret/alice", AclScope.User, "alice"),
            new(false, AclAction.Publish, "secret/alice", AclScope.User, "alice"),
            new(true, AclAction.Subscribe, "secret/alice", AclScope.User, "alice"),
            new(true, AclAction.Both, "devices/%u/#", AclScope.Everyone, Pattern: true),
        ];
        var set = new AclRuleSet(rules, defaultAllow: false, 1);
        Assert.False(set.Allows(Alice, AclAction.Publish, "secret/alice", false)); // deny and allow in alice's scope: deny
        Assert.True(set.Allows(Alice, AclAction.Subscribe, "secret/alice", false)); // alice's allow beats everyone's deny
        Assert.False(set.Allows(Alice, AclAction.Subscribe, "secret/bob", false));
        Assert.True(set.Allows(Alice, AclAction.Subscribe, "#", true)); // granted; deliveries under secret/ are checked one by one
        Assert.False(set.Allows(Alice, AclAction.Publish, "$SYS/x", false)); // '#' does not reach '$' topics [MQTT-4.7.2-1]
        Assert.True(set.Allows(new AclIdentity("bob", "c", null), AclAction.Publish, "devices/bob/t", false));

        // A user name holding '/' (or a wildcard) would widen the pattern: such a placeholder never matches.
        var patterns = new AclRuleSet([new AclRule(true, AclAction.Both, "devices/%u/#", AclScope.Everyone, Pattern: true)], defaultAllow: false, 1);
        Assert.False(patterns.Allows(new AclIdentity("a/b", "c", null), AclAction.Publish, "devices/a/b/t", false));
        Assert.False(patterns.Allows(new AclIdentity(null, "c", null), AclAction.Publish, "devices/%u/t", false));
    }

    /// <summary>A filter of 1 to 4 levels drawn from <paramref name="levels"/>, with a <c>#</c> only last.</summary>
    internal static string RandomFilter(Random random, string[] levels)
    {
        var count = random.Next(1, 5);
        var parts = new string[count];
        for (var i = 0; i < count; i++)
        {
            parts[i] = levels[random.Next(levels.Length)];
            if (parts[i] == "#" && i < count - 1)
            {
                parts[i] = "+";
            }
        }

        return string.Join('/', parts);
    }

    private static IEnumerable<string> Sequences(string[] alphabet, int maxLength)
    {
        IEnumerable<string> current = alphabet;
        for (var length = 1; length <= maxLength; length++)
        {
            foreach (var item in current)
            {
                yield return item;
            }

            current = current.SelectMany(prefix => alphabet.Select(level => prefix + "/" + level)).ToList();
        }
    }
}
