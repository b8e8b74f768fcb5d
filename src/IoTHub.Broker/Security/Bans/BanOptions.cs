namespace IoTHub.Broker.Security.Bans;

/// <summary>
/// Brute-force protection ("Security:Bans", docs/security.md): <see cref="MaxFailures"/> failed logins from one client
/// address, or for one user name, within <see cref="Window"/> ban it for <see cref="Duration"/>.
/// </summary>
public sealed class BanOptions
{
    public bool Enabled { get; set; } = true;

    public int MaxFailures { get; set; } = 10;

    /// <summary>Failures are counted from the first one; a failure after the window starts a new count.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    public TimeSpan Duration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Addresses, and user names, tracked at most (each kind on its own): counts and active bans.</summary>
    public int Capacity { get; set; } = 100_000;
}

/// <summary>What a ban holds back: a client address, or a user name.</summary>
public enum BanKind
{
    Address,
    User,
}

/// <summary>A ban in force: what it holds back, the failures that started it, and when it ends.</summary>
public sealed record ActiveBan(BanKind Kind, string Value, int Failures, DateTimeOffset Until);
