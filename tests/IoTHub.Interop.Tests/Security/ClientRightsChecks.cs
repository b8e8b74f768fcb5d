using MQTTnet;
using MQTTnet.Protocol;

namespace IoTHub.Interop.Tests.Security;

/// <summary>What the broker answers an MQTT 5.0 client's QoS 1 PUBLISH and SUBSCRIBE: the rights an authenticator gave it, seen from outside.</summary>
internal static class ClientRightsChecks
{
    /// <summary>The PUBACK's reason code: 0x87 Not authorized for a refused topic (5.0 §3.4.2.1).</summary>
    public static async Task<MqttClientPublishReasonCode> PublishAsync(MqttNetClient client, string topic) =>
        (await client.Client.PublishStringAsync(topic, "rights", MqttQualityOfServiceLevel.AtLeastOnce)).ReasonCode;

    /// <summary>The SUBACK's code for <paramref name="filter"/>: 0x87 Not authorized for a refused one (5.0 §3.9.3).</summary>
    public static async Task<MqttClientSubscribeResultCode> SubscribeAsync(MqttNetClient client, string filter) =>
        Assert.Single((await client.Client.SubscribeAsync(filter, MqttQualityOfServiceLevel.AtLeastOnce)).Items).ResultCode;
}
