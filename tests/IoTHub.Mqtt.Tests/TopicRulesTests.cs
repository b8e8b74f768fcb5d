using System.Text;
using IoTHub.Mqtt.Tests.Support;

namespace IoTHub.Mqtt.Tests;

/// <summary>Topic names, topic filters and shared subscriptions (5.0 §4.7, §4.8.2; 3.1.1 §4.7).</summary>
public sealed class TopicRulesTests
{
    [Theory]
    [InlineData("a", true)]
    [InlineData("a/b/c", true)]
    [InlineData("/", true)]
    [InlineData("//", true)]
    [InlineData("$SYS/broker", true)]
    [InlineData("spaces are fine", true)]
    [InlineData("", false)] // [MQTT-4.7.3-1]
    [InlineData("a/+", false)] // [MQTT-4.7.0-1]
    [InlineData("a/#", false)]
    [InlineData("a+b", false)]
    public void Topic_names(string topic, bool valid)
    {
        Assert.Equal(valid, TopicRules.IsValidTopicName(topic));
        Assert.Equal(valid, TopicRules.IsValidTopicName(Encoding.UTF8.GetBytes(topic)));
        var bytes = Encoding.UTF8.GetBytes(topic);
        Assert.Equal(valid, TopicRules.IsValidTopicName(bytes.Length > 1 ? Sequences.OneBytePerSegment(bytes) : new(bytes)));
    }

    [Fact]
    public void Topic_name_longer_than_65535_bytes_is_invalid()
    {
        var bytes = Encoding.UTF8.GetBytes(new string('a', 65_536));
        Assert.False(TopicRules.IsValidTopicName(bytes));
        Assert.False(TopicRules.IsValidTopicName(Sequences.Split(bytes, 100)));
        Assert.True(TopicRules.IsValidTopicName(bytes.AsSpan(1)));
    }

    [Theory]
    [InlineData("#", true)]
    [InlineData("+", true)]
    [InlineData("a/#", true)]
    [InlineData("a/+/c", true)]
    [InlineData("+/+", true)]
    [InlineData("/+", true)]
    [InlineData("a//b", true)]
    [InlineData("+/#", true)]
    [InlineData("$SYS/#", true)]
    [InlineData("", false)] // [MQTT-4.7.3-1]
    [InlineData("a/#/b", false)] // [MQTT-4.7.1-1] '#' is last
    [InlineData("a#", false)] // [MQTT-4.7.1-1] '#' fills its level
    [InlineData("a/b#", false)]
    [InlineData("a+", false)] // [MQTT-4.7.1-2] '+' fills its level
    [InlineData("a/+b/c", false)]
    [InlineData("##", false)]
    [InlineData("++", false)]
    public void Topic_filters(string filter, bool valid)
    {
        Assert.Equal(valid, TopicRules.IsValidTopicFilter(filter));
    }

    // [MQTT-4.8.2-1] ShareName: at least one character, no '/', '+' or '#'. [MQTT-4.8.2-2] then a valid filter.
    [Theory]
    [InlineData("$share/group/a/b", "group", "a/b")]
    [InlineData("$share/g/#", "g", "#")]
    [InlineData("$share/g/+/x", "g", "+/x")]
    [InlineData("$share/g//", "g", "/")]
    public void Shared_subscriptions_split_into_group_and_filter(string filter, string group, string inner)
    {
        Assert.True(TopicRules.TryParseShared(filter, out var groupRange, out var filterRange));
        Assert.Equal(group, filter[groupRange]);
        Assert.Equal(inner, filter[filterRange]);
        Assert.True(TopicRules.IsValidTopicFilter(filter));
    }

    [Theory]
    [InlineData("$share/")]
    [InlineData("$share//a")]
    [InlineData("$share/g")]
    [InlineData("$share/g/")]
    [InlineData("$share/g+/a")]
    [InlineData("$share/#/a")]
    [InlineData("$share/g/a/#/b")]
    public void Malformed_shared_subscriptions_are_invalid(string filter)
    {
        Assert.False(TopicRules.TryParseShared(filter, out _, out _));
        Assert.False(TopicRules.IsValidTopicFilter(filter));
    }

    [Fact]
    public void A_filter_that_only_looks_shared_is_a_plain_filter()
    {
        Assert.False(TopicRules.TryParseShared("$shared/g/a", out _, out _));
        Assert.True(TopicRules.IsValidTopicFilter("$shared/g/a"));
    }
}
