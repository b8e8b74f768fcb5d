using IoTHub.Mqtt;

namespace IoTHub.Broker.Diagnostics;

/// <summary>Protocol versions as the admin API, the metrics and the traces name them.</summary>
public static class ProtocolVersions
{
    /// <summary>The version as people write it: "3.1", "3.1.1" or "5.0"; null when unknown.</summary>
    public static string? Name(MqttProtocolVersion? version) => version switch
    {
        MqttProtocolVersion.V310 => "3.1",
        MqttProtocolVersion.V311 => "3.1.1",
        MqttProtocolVersion.V500 => "5.0",
        _ => null,
    };
}
