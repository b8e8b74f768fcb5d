using Xunit;

namespace IoTHub.Testing;

/// <summary>Waits for a condition that has no signal of its own (a counter, a state), checking often, with a timeout.</summary>
public static class Poll
{
    public static Task UntilAsync(Func<bool> condition, TimeSpan? timeout = null) =>
        UntilAsync(() => Task.FromResult(condition()), timeout);

    /// <summary>The same for a condition that has to ask over the network (a handshake, a CONNECT) each time.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null, string message = "condition not reached in time")
    {
        var deadline = DateTime.UtcNow + (timeout ?? MqttTestClient.Timeout);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            await Task.Delay(20);
        }
    }
}
