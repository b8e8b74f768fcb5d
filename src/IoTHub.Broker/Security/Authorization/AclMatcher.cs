namespace IoTHub.Broker.Security.Authorization;

/// <summary>
/// The rules of one scope (a user, anonymous clients, everyone) compiled into a topic trie: one node per rule filter
/// level, with separate <c>+</c>, <c>#</c> and placeholder children, and at each node the grants of the rules whose
/// filter ends there. A check walks the topic's levels once, following at most the literal child, <c>+</c> and the
/// placeholder levels at each step, so its cost depends on the topic's depth, not on the number of rules. Immutable
/// once built; a change of rules builds a new one.
/// </summary>
internal sealed class AclMatcher
{
    private readonly Node _root = new();

    /// <summary>Grant bits: allow and deny per action.</summary>
    [Flags]
    public enum Grants
    {
        None = 0,
        AllowPublish = 1,
        AllowSubscribe = 2,
        DenyPublish = 4,
        DenySubscribe = 8,
    }

    public int RuleCount { get; private set; }

    /// <summary>The rules compiled into one matcher.</summary>
    public static AclMatcher Of(IEnumerable<AclRule> rules)
    {
        var matcher = new AclMatcher();
        foreach (var rule in rules)
        {
            matcher.Add(rule);
        }

        return matcher;
    }

    public void Add(AclRule rule)
    {
        var node = _root;
        foreach (var level in rule.Filter.Split('/'))
        {
            node = level switch
            {
                _ when rule.Exact => node.LiteralChild(level),
                "+" => node.Plus ??= new Node(),
                "#" => node.Hash ??= new Node(),
                _ when rule.Pattern && AclTemplate.Parse(level) is { } template => node.TemplateChild(template),
                _ => node.LiteralChild(level),
            };
        }

        var grants = GrantsOf(rule);
        node.Here |= grants;
        (node.Rules ??= []).Add((rule, grants));
        RuleCount++;
    }

    /// <summary>The grant bit of <paramref name="action"/>: its allow, or (<paramref name="allowed"/> false) its deny.</summary>
    public static Grants Grant(AclAction action, bool allowed) => allowed ? (Grants)action : (Grants)((int)action << 2);

    /// <summary>
    /// The grants of every rule whose filter matches <paramref name="topic"/> or, with <paramref name="isFilter"/>, covers
    /// the topic filter <paramref name="topic"/>: a subscribed <c>+</c> level is covered only by a rule's <c>+</c> or
    /// <c>#</c>, a subscribed <c>#</c> only by a rule's <c>#</c>. A rule starting with a wildcard does not match topics
    /// starting with <c>$</c> [MQTT-4.7.2-1].
    /// </summary>
    public Grants Match(string topic, bool isFilter, AclIdentity identity) =>
        Match(_root, topic, isFilter, identity, dollar: IsDollarTopic(topic), reached: null);

    /// <summary>
    /// One of the rules behind <paramref name="grant"/> in <see cref="Match"/>'s answer for the same arguments, for the audit
    /// of access decisions; null when none of them grants it. Walks again, noting the nodes whose grants count.
    /// </summary>
    public AclRule? RuleBehind(Grants grant, string topic, bool isFilter, AclIdentity identity)
    {
        List<Node> reached = [];
        Match(_root, topic, isFilter, identity, IsDollarTopic(topic), reached);
        foreach (var node in reached)
        {
            foreach (var (rule, grants) in node.Rules ?? [])
            {
                if ((grants & grant) != 0)
                {
                    return rule;
                }
            }
        }

        return null;
    }

    private static Grants GrantsOf(AclRule rule) => Grant(rule.Actions, rule.Allow);

    private static bool IsDollarTopic(string topic) => topic.Length > 0 && topic[0] == '$';

    /// <summary>The grants of <paramref name="node"/>'s rules, noting the node in <paramref name="reached"/> when there is one (<see cref="RuleBehind"/>).</summary>
    private static Grants Reach(Node node, List<Node>? reached)
    {
        reached?.Add(node);
        return node.Here;
    }

    private static Grants Match(Node root, ReadOnlySpan<char> topic, bool isFilter, AclIdentity identity, bool dollar, List<Node>? reached)
    {
        // A rule's '#' covers every continuation, none included ("a/#" matches "a").
        var grants = root.Hash is { } hash && !dollar ? Reach(hash, reached) : Grants.None;
        if (isFilter && topic is "#" && root.Plus?.Hash is { } plusHash)
        {
            // Every topic has a first level, so "+/#" covers a subscription to "#" (deeper, "a/#" also matches "a" itself).
            grants |= Reach(plusHash, reached);
        }

        return grants | Walk(root, topic, isFilter, identity, dollar, reached);
    }

    private static Grants Walk(Node node, ReadOnlySpan<char> rest, bool isFilter, AclIdentity identity, bool dollar, List<Node>? reached)
    {
        var slash = rest.IndexOf('/');
        var level = slash < 0 ? rest : rest[..slash];
        var last = slash < 0;
        var next = last ? default : rest[(slash + 1)..];
        var grants = Grants.None;
        if (isFilter && level is "#")
        {
            // Only a rule's '#', counted by the caller, covers a subscribed '#', and an exact rule's own "#" level.
            return node.Literals is { } exact && exact.TryGetValue("#", out var hash) ? Reach(hash, reached) : grants;
        }

        // A literal "+" level comes only from an exact rule: it matches a subscribed "+" (a topic name has none).
        if (node.Literals is { } literals && literals.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(level, out var literal))
        {
            grants |= Step(literal, next, last, isFilter, identity, reached);
        }

        if (node.Plus is { } plus && !dollar)
        {
            grants |= Step(plus, next, last, isFilter, identity, reached);
        }

        if (node.Templates is { } templates && !(isFilter && level is "+"))
        {
            foreach (var (template, child) in templates)
            {
                if (template.Matches(level, identity))
                {
                    grants |= Step(child, next, last, isFilter, identity, reached);
                }
            }
        }

        return grants;
    }

    private static Grants Step(Node child, ReadOnlySpan<char> next, bool last, bool isFilter, AclIdentity identity, List<Node>? reached)
    {
        var grants = child.Hash is { } hash ? Reach(hash, reached) : Grants.None;
        return last ? grants | Reach(child, reached) : grants | Walk(child, next, isFilter, identity, dollar: false, reached);
    }

    private sealed class Node
    {
        public Dictionary<string, Node>? Literals;
        public Node? Plus;
        public Node? Hash;
        public List<(AclTemplate Template, Node Child)>? Templates;
        public Grants Here;

        /// <summary>The rules whose filter ends here, with their grants: only the audit asks for them (<see cref="RuleBehind"/>).</summary>
        public List<(AclRule Rule, Grants Grants)>? Rules;

        public Node LiteralChild(string level)
        {
            Literals ??= new Dictionary<string, Node>(StringComparer.Ordinal);
            if (!Literals.TryGetValue(level, out var child))
            {
                Literals[level] = child = new Node();
            }

            return child;
        }

        public Node TemplateChild(AclTemplate template)
        {
            Templates ??= [];
            foreach (var (existing, child) in Templates)
            {
                if (existing.Text == template.Text)
                {
                    return child;
                }
            }

            var node = new Node();
            Templates.Add((template, node));
            return node;
        }
    }
}
