using System.Collections;
using System.Reflection;

namespace IoTHub.Mqtt.Tests.Support;

/// <summary>Field-by-field comparison of materialised properties.</summary>
internal static class PacketAssert
{
    public static void PropertiesEqual(MqttProperties? expected, MqttProperties? actual)
    {
        if (expected is null || expected.IsEmpty)
        {
            Assert.True(actual is null || actual.IsEmpty, "expected no properties");
            return;
        }

        Assert.NotNull(actual);
        foreach (var property in typeof(MqttProperties).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var e = property.GetValue(expected);
            var a = property.GetValue(actual);
            if (e is IEnumerable expectedItems and not string)
            {
                Assert.True(a is IEnumerable, $"{property.Name} missing");
                Assert.Equal(expectedItems.Cast<object>(), ((IEnumerable)a!).Cast<object>());
            }
            else
            {
                Assert.True(Equals(e, a), $"{property.Name}: expected {e}, got {a}");
            }
        }
    }
}
