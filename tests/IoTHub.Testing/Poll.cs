using Xunit;

namespace IoTHub.Testing;

/// <summary>Waits for a condition that has no signal of its own (a counter, a state), checking often, with a timeout.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? MqttTestClient.Timeout);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(20);
        }
    }
}
