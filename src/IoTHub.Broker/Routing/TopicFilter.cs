namespace IoTHub.Broker.Routing;

/// <summary>Matching of one topic name against one topic filter (MQTT 5.0 §4.7), for lookups outside the tree.</summary>
public static class TopicFilter
{
    /// <summary>True when <paramref name="topic"/> matches <paramref name="filter"/>; '$' topics are not matched by a leading wildcard [MQTT-4.7.2-1].</summary>
    public static bool Matches(ReadOnlySpan<char> filter, ReadOnlySpan<char> topic)
    {
        if (topic.Length > 0 && topic[0] == '$' && filter.Length > 0 && filter[0] is '+' or '#')
        {
            return false;
        }

        while (true)
        {
            var filterSlash = filter.IndexOf('/');
            var filterLevel = filterSlash < 0 ? filter : filter[..filterSlash];
            if (filterLevel is "#")
            {
                return true;
            }

            var topicSlash = topic.IndexOf('/');
            var topicLevel = topicSlash < 0 ? topic : topic[..topicSlash];
            if (filterLevel is not "+" && !filterLevel.SequenceEqual(topicLevel))
            {
                return false;
            }

            if (topicSlash < 0)
            {
                // The topic ends: the filter must end too, or go on with just "/#".
                return filterSlash < 0 || filter[(filterSlash + 1)..] is "#";
            }

            if (filterSlash < 0)
            {
                return false;
            }

            filter = filter[(filterSlash + 1)..];
            topic = topic[(topicSlash + 1)..];
        }
    }
}
