using System.Collections.Concurrent;

namespace IoTHub.Broker.Routing;

/// <summary>The state of each shared subscription ($share/{group}/{filter}) that a strategy needs to pick a member.</summary>
internal sealed class SharedGroups(SharedSubscriptionStrategy strategy)
{
    private readonly ConcurrentDictionary<string, State> _states = new(StringComparer.Ordinal);

    /// <summary>
    /// Picks one of <paramref name="members"/> (all of one shared subscription, in the tree's stable
    /// order). Members whose client is connected are preferred; when none is, a queued one is used.
    /// </summary>
    public Subscription Choose(string sharedFilter, List<Subscription> members, string? publisherId)
    {
        var connected = 0;
        for (var i = 0; i < members.Count; i++)
        {
            if (members[i].Session.IsConnected)
            {
                members[connected++] = members[i];
            }
        }

        var count = connected > 0 ? connected : members.Count;
        if (count == 1)
        {
            return members[0];
        }

        var state = _states.GetOrAdd(sharedFilter, static _ => new State());
        switch (strategy)
        {
            case SharedSubscriptionStrategy.Random:
                return members[Random.Shared.Next(count)];
            case SharedSubscriptionStrategy.HashClientId:
                var hash = (uint)StringComparer.Ordinal.GetHashCode(publisherId ?? string.Empty);
                return members[(int)(hash % (uint)count)];
            case SharedSubscriptionStrategy.Sticky:
                for (var i = 0; i < count; i++)
                {
                    if (ReferenceEquals(members[i].Session, state.Sticky))
                    {
                        return members[i];
                    }
                }

                state.Sticky = members[0].Session;
                return members[0];
            default:
                var turn = (uint)Interlocked.Increment(ref state.Turn);
                return members[(int)(turn % (uint)count)];
        }
    }

    /// <summary>Shared subscriptions with state kept.</summary>
    public int Count => _states.Count;

    /// <summary>Drops the state of a shared subscription whose last member left.</summary>
    public void Forget(string sharedFilter) => _states.TryRemove(sharedFilter, out _);

    private sealed class State
    {
        public int Turn;

        public Sessions.Session? Sticky;
    }
}
