using IoTHub.Web.Api.Publish;

namespace IoTHub.Web.Dashboard.Components;

/// <summary>One level of the topic tree: its children by name, and the retained message of the topic ending here.</summary>
public sealed class TopicNode(string name, string path)
{
    private readonly SortedDictionary<string, TopicNode> _children = new(StringComparer.Ordinal);

    /// <summary>This level's name (the broker's name at the root).</summary>
    public string Name { get; } = name;

    /// <summary>The topic up to this level.</summary>
    public string Path { get; } = path;

    /// <summary>The levels below, by name.</summary>
    public IEnumerable<TopicNode> Children => _children.Values;

    internal RetainedMessageInfo? Message { get; private set; }

    /// <summary>Retained messages in this node and below.</summary>
    public int Count { get; private set; }

    /// <summary>The tree of one broker's retained messages (topics split at '/'; empty levels are kept).</summary>
    internal static TopicNode Build(string broker, IEnumerable<RetainedMessageInfo> messages)
    {
        var root = new TopicNode(broker, string.Empty);
        foreach (var message in messages)
        {
            var node = root;
            node.Count++;
            foreach (var level in message.Topic.Split('/'))
            {
                var path = node.Path.Length == 0 && node == root ? level : node.Path + "/" + level;
                if (!node._children.TryGetValue(level, out var child))
                {
                    node._children[level] = child = new TopicNode(level, path);
                }

                node = child;
                node.Count++;
            }

            node.Message = message;
        }

        return root;
    }
}
