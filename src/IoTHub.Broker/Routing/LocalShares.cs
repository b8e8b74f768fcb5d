namespace IoTHub.Broker.Routing;

/// <summary>
/// The members on this node of the shared subscriptions a message matched, as cross-node routing sees them
/// (<see cref="IRemoteRoutes.Forward"/>): it may give a group's turn to a member on another node, and then no member here gets
/// the message. Valid only during that call.
/// </summary>
public readonly struct LocalShares
{
    private readonly List<Subscription>? _members;

    internal LocalShares(List<Subscription> members) => _members = members;

    /// <summary>True when a member of share group <paramref name="group"/> on <paramref name="filter"/> is on this node.</summary>
    public bool Has(string group, string filter)
    {
        if (_members is null)
        {
            return false;
        }

        foreach (var member in _members)
        {
            if (member.ShareGroup == group && member.MatchFilter == filter)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The group's turn went to another node: its members here do not get the message.</summary>
    public void GiveAway(string group, string filter)
    {
        if (_members is null)
        {
            return;
        }

        var kept = 0;
        for (var i = 0; i < _members.Count; i++)
        {
            if (_members[i].ShareGroup != group || _members[i].MatchFilter != filter)
            {
                _members[kept++] = _members[i];
            }
        }

        _members.RemoveRange(kept, _members.Count - kept);
    }
}
