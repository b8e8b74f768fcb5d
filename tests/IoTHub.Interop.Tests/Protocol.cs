namespace IoTHub.Interop.Tests;

/// <summary>The MQTT version a client library is asked to speak.</summary>
public enum Protocol
{
    V311,
    V500,
}

/// <summary>One application message as a client library handed it to its application.</summary>
internal sealed record Received(string Topic, string Payload, int QoS, bool Retain, bool Duplicate = false)
{
    /// <summary>Topic, payload and QoS: what every library reports the same way.</summary>
    public string Summary => $"{Topic} {Payload} q{QoS}{(Retain ? " retained" : "")}";
}
