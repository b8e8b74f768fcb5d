using System.Threading.RateLimiting;
using IoTHub.Web.Configuration;
using Microsoft.AspNetCore.Connections;

namespace IoTHub.Web.Transports.Limits;

/// <summary>
/// A listener's own limits: how many connections it holds at once (MaximumConnections) and how many it accepts per
/// second (ConnectRate, at most that many in any one second). 0 means no limit.
/// </summary>
internal sealed record ConnectionLimits(int MaximumConnections, int ConnectRate)
{
    /// <summary>The limits of a listener's section; null when it sets none.</summary>
    public static ConnectionLimits? Read(SectionReader reader)
    {
        var limits = new ConnectionLimits(
            (int)reader.Number(nameof(MaximumConnections), 0, 0, int.MaxValue),
            (int)reader.Number(nameof(ConnectRate), 0, 0, int.MaxValue));
        return limits is { MaximumConnections: 0, ConnectRate: 0 } ? null : limits;
    }
}

/// <summary>
/// Enforces <see cref="ConnectionLimits"/> as the first connection middleware of a listener, before TLS and before any
/// byte is read: a connection over a limit is closed at once, without a CONNACK, as Mosquitto's max_connections does.
/// Sending 0x97 (Quota exceeded) or 0x9F (Connection rate exceeded) would mean finishing a TLS handshake and reading a
/// CONNECT for a client that is to be turned away, which is the very work these limits keep from a flood.
/// </summary>
internal sealed class ConnectionLimiter : IDisposable
{
    private readonly ConnectionLimits _limits;
    private readonly RefusedConnections _refused;
    private readonly TokenBucketRateLimiter? _rate;
    private int _open;

    public ConnectionLimiter(ConnectionLimits limits, RefusedConnections refused)
    {
        _limits = limits;
        _refused = refused;
        _rate = limits.ConnectRate == 0 ? null : new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = limits.ConnectRate,
            TokensPerPeriod = limits.ConnectRate,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (_rate is not null)
        {
            using var lease = _rate.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                _refused.Log(connection, $"more than ConnectRate ({_limits.ConnectRate}) connections came within a second");
                return;
            }
        }

        if (Interlocked.Increment(ref _open) > _limits.MaximumConnections && _limits.MaximumConnections > 0)
        {
            Interlocked.Decrement(ref _open);
            _refused.Log(connection, $"the listener holds MaximumConnections ({_limits.MaximumConnections}) connections");
            return;
        }

        try
        {
            await next(connection);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    public void Dispose() => _rate?.Dispose();
}
