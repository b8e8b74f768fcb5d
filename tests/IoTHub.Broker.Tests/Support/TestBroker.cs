using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Tests.Support;

/// <summary>A started broker with a fast monitor, so timer-driven behaviour shows up quickly.</summary>
internal static class TestBroker
{
    /// <param name="configure">Changes to the options.</param>
    /// <param name="time">The broker's clock, for tests that move time instead of waiting for it.</param>
    /// <param name="logger">Where the broker logs; nowhere when null.</param>
    public static MqttBroker Start(Action<BrokerOptions>? configure = null, TimeProvider? time = null, ILogger<MqttBroker>? logger = null)
    {
        var options = new BrokerOptions { MonitorInterval = TimeSpan.FromMilliseconds(50), SysInterval = TimeSpan.FromMilliseconds(200) };
        configure?.Invoke(options);
        var broker = new MqttBroker(options, logger, time);
        broker.Start();
        return broker;
    }
}
