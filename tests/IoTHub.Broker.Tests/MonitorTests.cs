using IoTHub.Broker.Tests.Support;
using IoTHub.Testing;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>The monitor's round over every connection, once a second.</summary>
public sealed class MonitorTests
{
    /// <summary>
    /// Issue 14, defect 8: the round took a snapshot of the connections and one of the sessions (a list of all of
    /// them each, 16 B per connection per second), so 10 000 idle connections allocated 170 KB/s and the broker's RSS
    /// grew by 2 KB per connection over two minutes, until the first collection.
    /// </summary>
    [Fact]
    public async Task A_round_over_idle_connections_allocates_nothing_per_connection()
    {
        const int Connections = 500;
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);

        // Not started: the test runs the rounds on its own thread, so it can count what they allocate.
        await using var broker = new MqttBroker(new BrokerOptions(), time: time);
        var clients = new List<MqttTestClient>(Connections);
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                clients.Add(await PipeClient.ConnectAsync(broker, "idle-" + i, keepAlive: 600));
            }

            // The first round publishes $SYS; the clock stands still, so the next ones only check.
            var now = time.GetTimestamp();
            broker.CheckTimers(now);

            var fewest = long.MaxValue;
            for (var round = 0; round < 5; round++)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                broker.CheckTimers(now);
                fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
            }

            // A few enumerators, whatever the number of connections (the snapshots were 8 KB here).
            Assert.InRange(fewest, 0, 512);
            Assert.Equal(Connections, broker.ConnectionCount);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }
}
