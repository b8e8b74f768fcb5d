using System.Text;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Retained;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Tests;

/// <summary>The retained store: topics starting with '$' (the broker's $SYS) are kept and counted apart [MQTT-4.7.2-1].</summary>
public sealed class RetainedStoreTests
{
    private readonly RetainedStore _store = new();

    private static MqttMessage Retained(string topic, string payload = "x") =>
        MqttMessage.Create(topic, Encoding.UTF8.GetBytes(payload), QualityOfService.AtMostOnce, retain: true);

    private List<string> Match(string filter)
    {
        var matches = new List<MqttMessage>();
        _store.Match(filter, matches, TimeProvider.System.GetTimestamp());
        return [.. matches.Select(static m => m.Topic).Order(StringComparer.Ordinal)];
    }

    [Fact]
    public void Dollar_topics_are_counted_apart_and_only_a_filter_starting_with_dollar_matches_them()
    {
        _store.Set(Retained("site/a"));
        _store.Set(Retained("$SYS/broker/uptime"));
        _store.Set(Retained("$SYS/broker/version", "1"));
        _store.Set(Retained("$SYS/broker/version", "2"));

        Assert.Equal((3, 2), (_store.Count, _store.ServerCount));
        Assert.Equal(["site/a"], Match("#"));
        Assert.Equal(["site/a"], Match("+/a"));
        Assert.Equal(["$SYS/broker/uptime", "$SYS/broker/version"], Match("$SYS/#"));
        Assert.Equal(["$SYS/broker/version"], Match("$SYS/broker/version"));
        Assert.Equal("2"u8.ToArray(), _store.Get("$SYS/broker/version")!.Payload.ToArray());

        // An empty payload deletes [MQTT-3.3.1-10], a '$' topic's as well.
        _store.Set(Retained("$SYS/broker/uptime", string.Empty));
        _store.Set(Retained("site/a", string.Empty));
        Assert.Equal((1, 1), (_store.Count, _store.ServerCount));
        Assert.Empty(Match("#"));
        Assert.Null(_store.Get("$SYS/broker/uptime"));
    }

    [Fact]
    public void Reserving_room_keeps_what_is_stored_and_takes_more()
    {
        _store.Set(Retained("site/a"));
        _store.Set(Retained("$SYS/broker/uptime"));

        _store.Reserve(1000);
        for (var i = 0; i < 1000; i++)
        {
            _store.Set(Retained("fleet/" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/state"));
        }

        Assert.Equal((1002, 1), (_store.Count, _store.ServerCount));
        Assert.Equal(1001, Match("#").Count);
        Assert.NotNull(_store.Get("site/a"));
        Assert.Equal(["fleet/999/state"], Match("fleet/999/+"));
    }
}
