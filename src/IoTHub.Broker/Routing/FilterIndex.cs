using IoTHub.Broker.Sessions;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Routing;

/// <summary>
/// Topic filters of a few owners (the other nodes of a cluster) in the engine's own <see cref="SubscriptionTree"/>: matching a topic
/// walks its levels without a lock and without allocating, with the same wildcard and '$' rules as the sessions' subscriptions, and
/// yields each owner once. One entry per owner and filter; a shared filter (<c>$share/{group}/{filter}</c>) matches as its filter and
/// is reported with its group. Changes must be serialised by the caller.
/// </summary>
public sealed class FilterIndex<T>
    where T : class
{
    [ThreadStatic]
    private static List<Subscription>? t_matches;

    private readonly SubscriptionTree _tree = new();
    private readonly Dictionary<T, Owner> _owners = new(ReferenceEqualityComparer.Instance);

    // The owners by the number their entries carry (the subscription identifier), replaced as a whole when one comes or goes.
    private T?[] _byNumber = [];

    /// <summary>True when no filter is left (the tree pruned to its root).</summary>
    public bool IsEmpty => _tree.IsEmpty;

    public void Add(string filter, T owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (!_owners.TryGetValue(owner, out var entry))
        {
            entry = new Owner(new Session(string.Empty), NextNumber());
            _owners[owner] = entry;
            Volatile.Write(ref _byNumber, [.. _byNumber, owner]);
        }

        _tree.Add(new Subscription(entry.Marker, filter, new SubscriptionOptions(QualityOfService.AtMostOnce), entry.Number));
    }

    public void Remove(string filter, T owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (_owners.TryGetValue(owner, out var entry))
        {
            _tree.Remove(entry.Marker, filter);
        }
    }

    /// <summary>Forgets an owner whose filters were all removed.</summary>
    public void Forget(T owner)
    {
        if (_owners.Remove(owner, out var entry))
        {
            var byNumber = (T?[])_byNumber.Clone();
            byNumber[entry.Number] = null;
            Volatile.Write(ref _byNumber, byNumber);
        }
    }

    /// <summary>
    /// Adds to <paramref name="ordinary"/> each owner with an ordinary filter matching <paramref name="topic"/>, once, and to
    /// <paramref name="shared"/> each owner's matching shared filter (<c>$share/{group}/{filter}</c>) with its group.
    /// </summary>
    public void Match(ReadOnlySpan<char> topic, List<T> ordinary, List<SharedMatch<T>> shared)
    {
        ArgumentNullException.ThrowIfNull(ordinary);
        ArgumentNullException.ThrowIfNull(shared);
        var matches = t_matches ??= [];
        _tree.Match(topic, matches);
        var byNumber = Volatile.Read(ref _byNumber);
        foreach (var match in matches)
        {
            if (match.SubscriptionId >= byNumber.Length || byNumber[match.SubscriptionId] is not { } owner)
            {
                continue;
            }

            if (match.ShareGroup is { } group)
            {
                shared.Add(new SharedMatch<T>(match.TopicFilter, group, match.MatchFilter, owner));
            }
            else if (!ordinary.Contains(owner))
            {
                ordinary.Add(owner);
            }
        }

        matches.Clear();
    }

    // Never reused, so a match read while an owner is forgotten cannot be taken for another owner (one slot per owner ever had).
    private uint NextNumber() => (uint)_byNumber.Length;

    private sealed record Owner(Session Marker, uint Number);
}

/// <summary>An owner's shared filter <paramref name="Key"/> (<c>$share/{group}/{filter}</c>) that matched a topic, with its parts.</summary>
public readonly record struct SharedMatch<T>(string Key, string Group, string Filter, T Owner);
