namespace IoTHub.Broker.Tests.Support;

/// <summary>A started broker with a fast monitor, so timer-driven behaviour shows up quickly.</summary>
internal static class TestBroker
{
    public static MqttBroker Start(Action<BrokerOptions>? configure = null)
    {
        var options = new BrokerOptions { MonitorInterval = TimeSpan.FromMilliseconds(50), SysInterval = TimeSpan.FromMilliseconds(200) };
        configure?.Invoke(options);
        var broker = new MqttBroker(options);
        broker.Start();
        return broker;
    }
}
