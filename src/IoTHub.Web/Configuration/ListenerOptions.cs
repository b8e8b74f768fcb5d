using System.Net;
using IoTHub.Broker;
using IoTHub.Mqtt;

namespace IoTHub.Web.Configuration;

/// <summary>Where one listener binds. Port 0 asks the system for a free port.</summary>
internal abstract class ListenerOptions
{
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    public abstract int Port { get; set; }

    public void Read(SectionReader reader)
    {
        Address = reader.Address(nameof(Address), Address);
        Port = reader.Port(nameof(Port), Port);
    }
}

/// <summary>Section "Http": the admin API, dashboard and health endpoints.</summary>
internal sealed class HttpOptions : ListenerOptions
{
    public const string SectionName = "Http";

    public override int Port { get; set; } = 8080;
}

/// <summary>
/// Section "Mqtt": the MQTT TCP listener, loopback by default until clients must authenticate, and
/// the broker's limits.
/// </summary>
internal sealed class MqttOptions : ListenerOptions
{
    public const string SectionName = "Mqtt";

    public override int Port { get; set; } = 1883;

    public BrokerOptions Broker { get; } = new();

    public void ReadBroker(SectionReader reader)
    {
        var b = Broker;
        b.MaximumPacketSize = (int)reader.Number(nameof(b.MaximumPacketSize), b.MaximumPacketSize, 64, VariableByteInteger.MaxValue + 5);
        b.ConnectTimeout = reader.Duration(nameof(b.ConnectTimeout), b.ConnectTimeout);
        b.MaximumConnections = (int)reader.Number(nameof(b.MaximumConnections), b.MaximumConnections, 1, int.MaxValue);
        b.MaximumInflightMessages = (int)reader.Number(nameof(b.MaximumInflightMessages), b.MaximumInflightMessages, 1, ushort.MaxValue);
        b.MaximumIncomingInflightMessages = (int)reader.Number(nameof(b.MaximumIncomingInflightMessages), b.MaximumIncomingInflightMessages, 1, ushort.MaxValue);
        b.MaximumQueuedMessages = (int)reader.Number(nameof(b.MaximumQueuedMessages), b.MaximumQueuedMessages, 0, int.MaxValue);
        b.MaximumQueuedBytes = reader.Number(nameof(b.MaximumQueuedBytes), b.MaximumQueuedBytes, 0, long.MaxValue);
        b.QueueOverflowPolicy = reader.Choice(nameof(b.QueueOverflowPolicy), b.QueueOverflowPolicy);
        b.QueueQoS0WhileOffline = reader.Flag(nameof(b.QueueQoS0WhileOffline), b.QueueQoS0WhileOffline);
        b.PersistentSessionLifetime = reader.Duration(nameof(b.PersistentSessionLifetime), b.PersistentSessionLifetime);
        b.MaximumTopicLength = (int)reader.Number(nameof(b.MaximumTopicLength), b.MaximumTopicLength, 1, TopicRules.MaxLength);
        b.MaximumTopicLevels = (int)reader.Number(nameof(b.MaximumTopicLevels), b.MaximumTopicLevels, 1, TopicRules.MaxLength);
        b.MaximumSubscriptionsPerClient = (int)reader.Number(nameof(b.MaximumSubscriptionsPerClient), b.MaximumSubscriptionsPerClient, 1, int.MaxValue);
        b.StuckClientTimeout = reader.Duration(nameof(b.StuckClientTimeout), b.StuckClientTimeout);
    }
}
