using System.Net;
using System.Threading.RateLimiting;
using IoTHub.Web.Configuration;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Auth;

/// <summary>
/// Limits failed logins per client address with ASP.NET Core's rate limiting primitives: each
/// failure takes a permit from a fixed window; once none is left, logins from that address get 429
/// until the window ends. Successful logins cost nothing, so a busy dashboard is never throttled.
/// </summary>
internal sealed class LoginThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress> _failures;
    private readonly TimeSpan _window;

    public LoginThrottle(IOptions<AdminOptions> options)
    {
        var admin = options.Value;
        _window = admin.FailedLoginWindow;
        _failures = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address => RateLimitPartition.GetFixedWindowLimiter(address, _ =>
            new FixedWindowRateLimiterOptions { PermitLimit = admin.FailedLoginLimit, Window = admin.FailedLoginWindow, QueueLimit = 0, AutoReplenishment = true }));
    }

    /// <summary>False when the address used up its failures; <paramref name="retryAfter"/> says for how long at most.</summary>
    public bool MayTry(IPAddress address, out TimeSpan retryAfter)
    {
        // Asking for 0 permits tells whether any are left without taking one.
        using var lease = _failures.AttemptAcquire(address, permitCount: 0);
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : _window;
        return lease.IsAcquired;
    }

    public void Failed(IPAddress address) => _failures.AttemptAcquire(address).Dispose();

    public void Dispose() => _failures.Dispose();
}
