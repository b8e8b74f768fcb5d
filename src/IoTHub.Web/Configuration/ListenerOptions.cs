using System.Net;

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
/// Section "Mqtt": the MQTT TCP listener (added by the engine issue). Loopback by default until
/// clients must authenticate.
/// </summary>
internal sealed class MqttOptions : ListenerOptions
{
    public const string SectionName = "Mqtt";

    public override int Port { get; set; } = 1883;
}
