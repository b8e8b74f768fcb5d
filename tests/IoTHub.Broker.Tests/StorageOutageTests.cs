using IoTHub.Broker.Messages;
using IoTHub.Broker.Storage;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests;

/// <summary>
/// A storage outage (commits failing in a row, as on a full disk) is logged when it starts, with its
/// cause, counted once a minute while it lasts and logged when it ends: one reconnecting publisher
/// fails a batch per attempt, which must not flood the log. <see cref="StorageWriter.Failing"/>
/// (readiness) follows. Failures are forced with <see cref="PausingStore"/> over the memory store.
/// </summary>
public sealed class StorageOutageTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly StorageOperation Write = StorageOperation.SetRetained(MqttMessage.Restore("t", "v"u8, QualityOfService.AtLeastOnce, true, default, expiresAtUtc: null));

    [Fact]
    public async Task An_outage_is_logged_when_it_starts_counted_each_minute_and_logged_when_it_ends()
    {
        var time = new FakeTimeProvider();
        var log = new CapturingLogger<StorageWriter>();
        var store = new PausingStore(new MemoryBrokerStore());
        await using var writer = new StorageWriter(store, StorageDurability.Strict, log, time: time);

        async Task FailAsync()
        {
            store.FailNextCommit(new IOException("No space left on device"));
            await Assert.ThrowsAsync<IOException>(() => writer.WriteAsync(Write).AsTask().WaitAsync(Timeout));
        }

        Assert.False(writer.Failing);
        await FailAsync();
        Assert.True(writer.Failing);
        for (var i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromSeconds(10));
            await FailAsync();
        }

        var started = Assert.Single(log.Entries);
        Assert.Equal((LogLevel.Error, 1200), (started.Level, started.EventId));
        Assert.StartsWith("Storage commits fail: IOException: No space left on device.", started.Message, StringComparison.Ordinal);

        // A minute after the start: the failures since, counted in one line.
        time.Advance(TimeSpan.FromSeconds(10));
        await FailAsync();
        var counted = log.Entries.Last();
        Assert.Equal((LogLevel.Error, 1201), (counted.Level, counted.EventId));
        Assert.Contains("6 more failed in the last 00:01:00", counted.Message, StringComparison.Ordinal);
        Assert.True(writer.Failing);

        time.Advance(TimeSpan.FromSeconds(30));
        await writer.WriteAsync(Write).AsTask().WaitAsync(Timeout);
        Assert.False(writer.Failing);
        var ended = log.Entries.Last();
        Assert.Equal((LogLevel.Information, 1202), (ended.Level, ended.EventId));
        Assert.Equal("Storage commits succeed again after 00:01:30 and 7 failed commits", ended.Message);
        Assert.Equal(3, log.Entries.Count());
        Assert.All(log.Entries, entry => Assert.Null(entry.Exception));
        Assert.Equal(7, writer.FailedBatches);

        // A disk that flaps (a small write fits between failures) within a minute of the end: readiness follows
        // each commit, the log only counts the failures.
        for (var i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await FailAsync();
            Assert.True(writer.Failing);
            await writer.WriteAsync(Write).AsTask().WaitAsync(Timeout);
            Assert.False(writer.Failing);
        }

        Assert.Equal(3, log.Entries.Count());
        time.Advance(TimeSpan.FromSeconds(20));
        await FailAsync();
        Assert.Equal(4, log.Entries.Count());
        Assert.Contains("4 more failed in the last 00:01:05", log.Entries.Last().Message, StringComparison.Ordinal);

        // An outage a minute after the last one ended is a new one, logged again.
        await writer.WriteAsync(Write).AsTask().WaitAsync(Timeout);
        time.Advance(TimeSpan.FromMinutes(1));
        await FailAsync();
        Assert.Equal(1200, log.Entries.Last().EventId);
        Assert.Equal(5, log.Entries.Count());
    }
}
