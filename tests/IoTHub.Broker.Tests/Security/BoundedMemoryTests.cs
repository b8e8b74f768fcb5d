using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Security;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests.Security;

/// <summary>
/// A flood of distinct credentials or client ids cannot grow the authentication cache or the per-client refusal log
/// without bound: both stop remembering at their capacity and sweep expired entries to make room.
/// </summary>
public sealed class BoundedMemoryTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    [Fact]
    public void The_cache_stops_at_its_capacity_and_sweeps_expired_decisions()
    {
        var cache = new AuthenticationCache(TimeSpan.FromSeconds(60), _time);
        var decision = new CachedDecision(ConnectDecision.Accept, 0);
        for (var i = 0; i < AuthenticationCache.Capacity; i++)
        {
            cache.Store("flood", [], $"client-{i}", decision, cache.Generation);
        }

        cache.Store("alice", "secret"u8.ToArray(), "one-too-many", decision, cache.Generation);
        Assert.Equal(AuthenticationCache.Capacity, cache.Count);
        Assert.False(cache.TryGet("alice", "secret"u8.ToArray(), "one-too-many", out _));

        _time.Advance(TimeSpan.FromSeconds(60));
        cache.Store("alice", "secret"u8.ToArray(), "one-too-many", decision, cache.Generation);
        Assert.Equal(1, cache.Count);
        Assert.True(cache.TryGet("alice", "secret"u8.ToArray(), "one-too-many", out _));
    }

    [Fact]
    public void The_per_client_log_limit_forgets_client_ids_beyond_its_capacity()
    {
        var limiter = new PerClientLogLimiter(TimeSpan.FromMinutes(1), _time);
        for (var i = 0; i < PerClientLogLimiter.Capacity; i++)
        {
            Assert.True(limiter.TryAcquire($"client-{i}"));
        }

        Assert.False(limiter.TryAcquire("client-0"));

        // Full: a new id is logged but not remembered (the broker's overall limit still bounds the lines).
        Assert.True(limiter.TryAcquire("newcomer"));
        Assert.True(limiter.TryAcquire("newcomer"));

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(limiter.TryAcquire("newcomer")); // swept: remembered again
        Assert.False(limiter.TryAcquire("newcomer"));
        Assert.True(limiter.TryAcquire("client-0"));
    }
}
