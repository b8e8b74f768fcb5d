namespace IoTHub.Broker.Security.Audit;

/// <summary>What a recorded access decision was about.</summary>
public enum AccessAuditAction
{
    /// <summary>A PUBLISH, or a will when its connection ends.</summary>
    Publish,

    /// <summary>A SUBSCRIBE filter, or a subscription removed when checked again after the rules changed.</summary>
    Subscribe,

    /// <summary>A message delivered through a subscription (refused by a deny inside an allowed filter).</summary>
    Receive,
}

/// <summary>How an entry of the access audit ended.</summary>
public enum AccessAuditResult
{
    Allow,
    Deny,

    /// <summary>Not a decision: how many decisions were not recorded (over the rate, or with the queue full).</summary>
    Dropped,
}

/// <summary>Where a connection came in, as the access audit records it.</summary>
/// <param name="Broker">The broker's name (<c>default</c>, or one of <c>Mqtt:Brokers</c>).</param>
/// <param name="Listener">The listener that accepted it, by its URL.</param>
/// <param name="Address">The client's address and port.</param>
public sealed record ClientOrigin(string Broker, string Listener, string Address);

/// <summary>
/// One entry of the access audit: a decision (when, who from where, what on which topic, the result and the rule that made
/// it), or, with <see cref="AccessAuditResult.Dropped"/>, how many decisions were not recorded since the previous such entry.
/// </summary>
/// <param name="Rule">Where the deciding rule comes from (<c>/etc/iothub/acl:12</c>, a stored rule as <c>role:operators#7</c>), <c>superuser</c>
/// for a superuser, or <c>default</c> when no rule spoke.</param>
/// <param name="Dropped">Decisions not recorded; 0 for a decision.</param>
public sealed record AccessAuditEntry(
    DateTimeOffset At,
    AccessAuditResult Result,
    string? Broker,
    string? Listener,
    string? Address,
    string? UserName,
    string? ClientId,
    AccessAuditAction? Action,
    string? Topic,
    string? Rule,
    long Dropped = 0)
{
    /// <summary>The <see cref="Rule"/> of a decision no rule spoke about.</summary>
    public const string DefaultRule = "default";

    public static AccessAuditEntry Summary(DateTimeOffset at, long dropped) =>
        new(at, AccessAuditResult.Dropped, null, null, null, null, null, null, null, null, dropped);
}

/// <summary>A search of the access audit, newest first; a null criterion keeps every entry.</summary>
/// <param name="ClientId">Only this client id (exact).</param>
/// <param name="UserName">Only this user name (exact).</param>
/// <param name="Topic">Only topics or filters that contain this text (case-sensitive).</param>
/// <param name="From">Only entries at or after this time.</param>
/// <param name="To">Only entries before this time.</param>
public sealed record AccessAuditQuery(string? ClientId = null, string? UserName = null, string? Topic = null, AccessAuditResult? Result = null,
    DateTimeOffset? From = null, DateTimeOffset? To = null);

/// <summary>Where the access audit is kept: the broker's database, or memory.</summary>
public interface IAccessAuditLog
{
    /// <summary>Adds the entries, in one transaction where the store has them.</summary>
    Task WriteAsync(IReadOnlyList<AccessAuditEntry> entries, CancellationToken cancellationToken);

    /// <summary>Newest first, <paramref name="take"/> entries that match after the first <paramref name="skip"/>, and how many match in all.</summary>
    Task<(IReadOnlyList<AccessAuditEntry> Entries, int Total)> ReadAsync(AccessAuditQuery query, int skip, int take, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the entries older than <paramref name="olderThan"/>, and all but the newest <paramref name="keep"/> (by when they
    /// were stored), in short batches so that a big prune never holds the store for long; how many it deleted.
    /// </summary>
    Task<long> PruneAsync(DateTimeOffset olderThan, long keep, CancellationToken cancellationToken);
}

/// <summary>How long and how many entries the access audit keeps (docs/security.md#audit-of-access-decisions).</summary>
/// <param name="MaxAge">Entries older than this are deleted.</param>
/// <param name="MaxEntries">At most this many entries are kept, the newest.</param>
public sealed record AccessAuditRetention(TimeSpan MaxAge, long MaxEntries)
{
    /// <summary>A week, and a million entries.</summary>
    public static AccessAuditRetention Default { get; } = new(TimeSpan.FromDays(7), 1_000_000);
}

/// <summary>The words the audit stores and shows for its actions and results: <c>publish</c>, <c>deny</c>, ...</summary>
public static class AccessAuditNames
{
    public static string Name(this AccessAuditAction action) => action switch
    {
        AccessAuditAction.Publish => "publish",
        AccessAuditAction.Subscribe => "subscribe",
        _ => "receive",
    };

    public static string Name(this AccessAuditResult result) => result switch
    {
        AccessAuditResult.Allow => "allow",
        AccessAuditResult.Deny => "deny",
        _ => "dropped",
    };

    /// <summary>The action <see cref="Name(AccessAuditAction)"/> writes as <paramref name="name"/>; null for another word.</summary>
    public static AccessAuditAction? ParseAction(string? name) => Parse<AccessAuditAction>(name, static a => a.Name());

    /// <summary>The result <see cref="Name(AccessAuditResult)"/> writes as <paramref name="name"/>; null for another word.</summary>
    public static AccessAuditResult? ParseResult(string? name) => Parse<AccessAuditResult>(name, static r => r.Name());

    private static T? Parse<T>(string? name, Func<T, string> nameOf)
        where T : struct, Enum
    {
        foreach (var value in Enum.GetValues<T>())
        {
            if (nameOf(value) == name)
            {
                return value;
            }
        }

        return null;
    }
}
