using System.Net;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Security.Certificates;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Security.Bans;

/// <summary>
/// The failed logins of the server's MQTT clients, per client address and per user name, and the bans they lead to
/// (docs/security.md). A client authenticated by its certificate is checked by its address only: user-name bans are
/// about guessed passwords. Clients without an IP address (Unix sockets) are counted by user name only.
/// </summary>
public sealed partial class BanList
{
    private readonly BanOptions _options;
    private readonly ILogger _logger;
    private readonly FailureTable<IPAddress> _addresses;
    private readonly FailureTable<string> _users;

    public BanList(BanOptions options, TimeProvider time, ILogger<BanList> logger)
    {
        _options = options;
        _logger = logger;
        _addresses = new FailureTable<IPAddress>(options, time);
        _users = new FailureTable<string>(options, time);
    }

    public bool Enabled => _options.Enabled;

    /// <summary>Whether the client's address or user name is banned now.</summary>
    public bool IsBanned(ConnectRequest request) =>
        (AddressOf(request.Connection) is { } address && _addresses.IsBanned(address))
        || (UserOf(request) is { } user && _users.IsBanned(user));

    /// <summary>Counts a failed login for the client's address and user name; logs each ban it starts.</summary>
    public void Failed(ConnectRequest request)
    {
        if (AddressOf(request.Connection) is { } address && _addresses.Fail(address) is { } addressBanEnds)
        {
            LogBanned(_logger, "address", address, _options.MaxFailures, _options.Window, addressBanEnds);
        }

        if (UserOf(request) is { } user && _users.Fail(user) is { } userBanEnds)
        {
            LogBanned(_logger, "user", user, _options.MaxFailures, _options.Window, userBanEnds);
        }
    }

    /// <summary>A login that succeeded forgets its user name's failures (not its address's: one account must not clear a whole address).</summary>
    public void Succeeded(ConnectRequest request)
    {
        if (UserOf(request) is { } user)
        {
            _users.Forget(user);
        }
    }

    /// <summary>The bans in force, addresses first.</summary>
    public IReadOnlyList<ActiveBan> Active() =>
    [
        .. _addresses.Active().Select(static ban => new ActiveBan(BanKind.Address, ban.Key.ToString(), ban.Failures, ban.Until)),
        .. _users.Active().Select(static ban => new ActiveBan(BanKind.User, ban.Key, ban.Failures, ban.Until)),
    ];

    /// <summary>Ends a ban (and forgets its failures); false when there is none for <paramref name="value"/>.</summary>
    public bool Lift(BanKind kind, string value) => kind == BanKind.User
        ? _users.Lift(value)
        : IPAddress.TryParse(value, out var address) && _addresses.Lift(Normal(address));

    /// <summary>Bans started since the start.</summary>
    public long Started(BanKind kind) => kind == BanKind.User ? _users.Bans : _addresses.Bans;

    /// <summary>Bans in force.</summary>
    public int InForce(BanKind kind) => kind == BanKind.User ? _users.Active().Count() : _addresses.Active().Count();

    /// <summary>Keys tracked of each kind (for tests of the bounds).</summary>
    internal (int Addresses, int Users) Tracked => (_addresses.Count, _users.Count);

    private static IPAddress? AddressOf(ConnectionInfo connection) => connection.RemoteEndPoint is IPEndPoint { Address: var address } ? Normal(address) : null;

    /// <summary>An IPv4 client of a dual-stack listener is the same client as over IPv4.</summary>
    private static IPAddress Normal(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static string? UserOf(ConnectRequest request) =>
        request.Connection.CertificateIdentity == CertificateIdentity.None ? request.LoginName : null;

    [LoggerMessage(EventId = 1120, Level = LogLevel.Warning,
        Message = "MQTT logins of {Kind} {Value} banned until {Until:u} after {Failures} failed logins within {Window}")]
    private static partial void LogBanned(ILogger logger, string kind, object value, int failures, TimeSpan window, DateTimeOffset until);
}
