using System.Text;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Wills;
using IoTHub.Mqtt;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>The will scheduler alone, on a fake clock: when a will goes, and with which expiry (5.0 §3.1.3.2.2, §3.1.3.2.3).</summary>
public sealed class WillSchedulerTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly List<MqttMessage> _published = [];
    private readonly WillScheduler _scheduler;

    public WillSchedulerTests() => _scheduler = new WillScheduler(_time, _published.Add);

    private static Will NewWill(string clientId, uint delay, uint? expiry = null) => new(
        new WillMessage { Topic = $"wills/{clientId}", Payload = Encoding.UTF8.GetBytes("gone"), QualityOfService = QualityOfService.AtLeastOnce,
            Properties = new MqttProperties { WillDelayInterval = delay, MessageExpiryInterval = expiry } },
        clientId);

    private void PassSeconds(int seconds)
    {
        _time.Advance(TimeSpan.FromSeconds(seconds));
        _scheduler.PublishDue(_time.GetTimestamp());
    }

    // 5.0 §3.1.3.2.2: the will waits its delay, but never beyond the session's expiry.
    [Theory]
    [InlineData(30u, 3600u, 30)]
    [InlineData(3600u, 20u, 20)]
    public void A_held_will_goes_after_the_shorter_of_its_delay_and_the_session_expiry(uint delay, uint sessionExpiry, int dueAfter)
    {
        var session = new Session("dev") { ExpiryInterval = sessionExpiry };
        _scheduler.HoldForDelay(session, NewWill("dev", delay), _time.GetTimestamp());

        PassSeconds(dueAfter - 1);
        Assert.Empty(_published);
        Assert.Equal(1, _scheduler.Count);

        PassSeconds(1);
        Assert.Equal("wills/dev", Assert.Single(_published).Topic);
        Assert.Equal(0, _scheduler.Count);
    }

    // [MQTT-3.1.3-9]: a will taken out (its client came back) is never published.
    [Fact]
    public void A_will_taken_out_is_not_published()
    {
        var session = new Session("dev") { ExpiryInterval = 3600 };
        _scheduler.HoldForDelay(session, NewWill("dev", 5), _time.GetTimestamp());

        Assert.NotNull(_scheduler.Take(session));
        Assert.Null(_scheduler.Take(session));
        PassSeconds(10);

        Assert.Empty(_published);
    }

    // 5.0 §3.1.3.2.3: the will's Message Expiry Interval counts from its publication, not from the CONNECT.
    [Fact]
    public void A_wills_expiry_starts_when_it_is_published()
    {
        var session = new Session("dev") { ExpiryInterval = 3600 };
        _scheduler.HoldForDelay(session, NewWill("dev", delay: 100, expiry: 50), _time.GetTimestamp());

        PassSeconds(100);

        var message = Assert.Single(_published);
        Assert.False(message.IsExpired(_time.GetTimestamp()));
        _time.Advance(TimeSpan.FromSeconds(50));
        Assert.True(message.IsExpired(_time.GetTimestamp()));
    }
}
