using IoTHub.Broker;
using IoTHub.Web.Mqtt;

namespace IoTHub.Web.Api.Sessions;

/// <summary>How the <c>clientId</c> criterion of a list compares.</summary>
internal enum ClientIdMatch
{
    /// <summary>The client id contains the text (case-sensitive).</summary>
    Contains,

    /// <summary>The client id is exactly the text: one session, found without reading the others.</summary>
    Exact,
}

/// <summary>What a list of sessions or clients is ordered by; ties go by client id, then broker (public: dashboard components take it as a parameter).</summary>
public enum SessionSort
{
    /// <summary>The client id (ordinal), then the broker.</summary>
    ClientId,

    /// <summary>Queue depth: messages waiting beyond the in-flight window.</summary>
    Queued,

    /// <summary>QoS 1/2 messages sent and not yet acknowledged.</summary>
    Inflight,

    /// <summary>When the client connected; offline sessions come after the connected ones in either order.</summary>
    ConnectedAt,
}

/// <summary>Which way a list is ordered (public: dashboard components take it as a parameter).</summary>
public enum SortOrder
{
    /// <summary>Smallest first.</summary>
    Asc,

    /// <summary>Largest first.</summary>
    Desc,
}

/// <summary>
/// The criteria and order of a list of sessions (connected or not) or of clients (connected sessions), shared by the
/// API's lists (<c>GET /api/v1/sessions</c>, <c>GET /api/v1/clients</c>) and the dashboard's pages. Every criterion
/// given must hold; one page is selected from the matching sessions without sorting them all (<see cref="PageSelection"/>).
/// </summary>
internal sealed record SessionListQuery
{
    public string? ClientId { get; init; }

    public ClientIdMatch ClientIdMatch { get; init; }

    /// <summary>Only connected (true) or offline (false) sessions.</summary>
    public bool? Connected { get; init; }

    /// <summary>Only sessions with at least this many queued messages.</summary>
    public int? MinQueued { get; init; }

    /// <summary>Only sessions whose queue is full (true) or not (false).</summary>
    public bool? QueueFull { get; init; }

    /// <summary>Only connected clients whose address starts with this text.</summary>
    public string? Ip { get; init; }

    /// <summary>Only connected clients that sent exactly this user name.</summary>
    public string? User { get; init; }

    public SessionSort Sort { get; init; }

    public SortOrder Order { get; init; }

    /// <summary>Adds what is wrong with the criteria (enum values the names of which were not sent, a negative queue depth) to <paramref name="errors"/>.</summary>
    public void Validate(ValidationErrors errors)
    {
        if (MinQueued is < 0)
        {
            errors.Add("minQueued", "must be 0 or more.");
        }

        Enums.Check(errors, "clientIdMatch", ClientIdMatch);
        Enums.Check(errors, "sort", Sort);
        Enums.Check(errors, "order", Order);
    }

    /// <summary>The sessions of <paramref name="brokers"/> that the criteria keep, with their broker, as listed (not read in full).</summary>
    public IEnumerable<ListedSession> Find(IEnumerable<KeyValuePair<string, MqttBroker>> brokers)
    {
        foreach (var (name, broker) in brokers)
        {
            IEnumerable<SessionListing> candidates = ClientIdMatch == ClientIdMatch.Exact && ClientId is not null
                ? broker.GetSessionListing(ClientId) is { } one ? [one] : []
                : broker.EnumerateSessions();
            foreach (var session in candidates)
            {
                if (Matches(session))
                {
                    yield return new ListedSession(name, broker, session);
                }
            }
        }
    }

    /// <summary>The requested page of the matching sessions of <paramref name="brokers"/>, in order; only the page's sessions are read in full.</summary>
    public ResultPage<BrokerSession> Page(IEnumerable<KeyValuePair<string, MqttBroker>> brokers, PageQuery paging)
    {
        var order = new SessionOrder(Sort, Order);
        return paging.Select(Find(brokers), order.Rank, order).Map(static s => new BrokerSession(s.Broker, s.Engine.ReadSession(s.Session)));
    }

    public bool Matches(SessionListing s) =>
        ClientIds.Match(s.ClientId, ClientId, ClientIdMatch)
        && (Connected is null || s.IsConnected == Connected)
        && (MinQueued is null || s.QueuedMessages >= MinQueued)
        && (QueueFull is null || s.QueueFull == QueueFull)
        && (Ip is null || (s.Endpoint is { } endpoint && HostOf(endpoint).StartsWith(Ip, StringComparison.OrdinalIgnoreCase)))
        && (User is null || string.Equals(s.UserName, User, StringComparison.Ordinal));

    /// <summary>The address part of "address:port" (IPv6 addresses are written "[::1]:port").</summary>
    private static string HostOf(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        var host = colon > 0 && !endpoint.EndsWith(']') ? endpoint[..colon] : endpoint;
        return host.Trim('[', ']');
    }

    /// <summary>What a session is ordered by: its key in the direction asked for, then its client id, then its broker.</summary>
    private readonly record struct SessionRank(long Key, string ClientId, string Broker);

    /// <summary>The order of a list: the key in the direction asked for, ties by client id (ascending unless the list is by client id) then broker.</summary>
    private readonly struct SessionOrder(SessionSort sort, SortOrder order) : IComparer<SessionRank>
    {
        private readonly int _direction = order == SortOrder.Desc ? -1 : 1;

        /// <summary>The key of a session: offline sessions come after the connected ones by connection time either way.</summary>
        public SessionRank Rank(ListedSession item)
        {
            var session = item.Session;
            var key = sort switch
            {
                SessionSort.Queued => (long)session.QueuedMessages * _direction,
                SessionSort.Inflight => (long)session.InflightMessages * _direction,
                SessionSort.ConnectedAt => session.ConnectedAt is { } at ? at.UtcTicks * _direction : long.MaxValue,
                _ => 0,
            };
            return new SessionRank(key, session.ClientId, item.Broker);
        }

        public int Compare(SessionRank x, SessionRank y) =>
            x.Key != y.Key ? x.Key.CompareTo(y.Key)
            : string.CompareOrdinal(x.ClientId, y.ClientId) is var byId and not 0 ? (sort == SessionSort.ClientId ? byId * _direction : byId)
            : string.CompareOrdinal(x.Broker, y.Broker);
    }
}

/// <summary>A session read in full, with the name of its broker.</summary>
internal readonly record struct BrokerSession(string Broker, SessionSnapshot Session);

/// <summary>A session as listed, with its broker and the broker's name.</summary>
internal readonly record struct ListedSession(string Broker, MqttBroker Engine, SessionListing Session);

/// <summary>The <c>clientId</c> criterion of the lists.</summary>
internal static class ClientIds
{
    /// <summary>Whether <paramref name="clientId"/> passes the criterion <paramref name="wanted"/> (null: every id does).</summary>
    public static bool Match(string clientId, string? wanted, ClientIdMatch match) =>
        wanted is null || (match == ClientIdMatch.Exact ? string.Equals(clientId, wanted, StringComparison.Ordinal) : clientId.Contains(wanted, StringComparison.Ordinal));
}

/// <summary>Enum values bound from a query string.</summary>
internal static class Enums
{
    /// <summary>
    /// Adds an error when <paramref name="value"/> is not one of its enum's names: a query string binds a number
    /// (<c>sort=7</c>) to any value of an enum, named or not.
    /// </summary>
    public static void Check<T>(ValidationErrors errors, string field, T value)
        where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            errors.Add(field, $"must be one of {string.Join(", ", Enum.GetNames<T>())}.");
        }
    }
}
