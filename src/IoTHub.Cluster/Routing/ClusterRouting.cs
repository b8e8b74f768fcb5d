using System.Runtime.InteropServices;
using System.Threading.Channels;
using IoTHub.Broker.Messages;
using IoTHub.Broker.Routing;
using IoTHub.Mqtt;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace IoTHub.Cluster.Routing;

/// <summary>
/// Cross-node routing, one hop (docs/clustering.md). This node's filters go to the other nodes as numbered batches of changes;
/// their filters come into <see cref="Replica"/>, with a snapshot asked for on a gap and a dead node's purged. A message routed
/// here is queued once for each other node with a matching subscription (a share group's turn going to one node among those with
/// members), whose sender takes it there in batches; a message that comes from another node is delivered to this node's sessions only.
/// A node declared dead is buried: its filters stay, refusing QoS 1 and 2 messages (their publishers send them again), until the
/// survivor that adopted its sessions says so after its own filters (docs/clustering.md#a-dead-nodes-routes). A session moving to
/// another node leaves its route keys here refusing, and their removal unsent, until that node's filters have them
/// (docs/clustering.md#a-moving-sessions-routes).
/// </summary>
internal sealed partial class ClusterRouting : IRemoteRoutes, ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    [ThreadStatic]
    private static List<NodeRoutes>? t_targets;

    [ThreadStatic]
    private static List<SharedMatch<NodeRoutes>>? t_groups;

    [ThreadStatic]
    private static List<(NodeRoutes Node, string Group)>? t_turns;

    // Between BeginBatch and EndBatch on this thread (a connection handling a read), the queues given messages are woken at the end.
    [ThreadStatic]
    private static bool t_holding;

    [ThreadStatic]
    private static List<ForwardQueue>? t_held;

    // The acceptances the message being forwarded waits for when it goes to several nodes, and the last combination of them: the
    // messages of one read mostly go to the same nodes' open acceptances and share one task.
    [ThreadStatic]
    private static List<Task>? t_accepting;

    [ThreadStatic]
    private static (Task[] Parts, Task All)? t_lastAccepting;

    private readonly ILocalBroker _broker;
    private readonly ILocalSiloDetails _local;
    private readonly IGrainFactory _grains;
    private readonly IClusterMembershipService _membership;
    private readonly RoutingSettings _settings;
    private readonly ILogger _logger;
    private readonly TimeProvider _time = TimeProvider.System;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];

    // This node's filters, the changes not yet sent and the number of the last batch made, under one lock.
    private readonly Lock _localLock = new();
    private readonly HashSet<string> _localFilters = new(StringComparer.Ordinal);
    private readonly List<FilterDelta> _pending = [];

    // Route keys this node lost the last subscription of while a session that had them moves away: their removal waits, and they stay
    // in _localFilters, until the session's new node has them (Replica.Arrived) or the wait's limit.
    private readonly HashSet<string> _heldRemovals = new(StringComparer.Ordinal);

    // The dead nodes this node adopted: all of them (they go with a snapshot), and those not yet in a batch.
    private readonly HashSet<string> _adopted = new(StringComparer.Ordinal);
    private readonly List<string> _pendingAdopted = [];
    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _sequence;

    // Who waits for a batch (or heartbeat) of at least this number to be sent to every other active node (FlushFiltersAsync).
    private readonly List<(long Sequence, TaskCompletionSource Sent)> _flushes = [];

    // The other active nodes the batches go to.
    private SiloAddress[] _peers = [];
    private long _received;

    // The queues of dead nodes, so that the totals never go down (the call in flight at a death counts on); with the burials and purges, under this lock.
    private readonly Lock _totalsLock = new();
    private readonly List<ForwardQueue> _deadOutboxes = [];

    public ClusterRouting(ILocalBroker broker, ILocalSiloDetails local, IGrainFactory grains, IClusterMembershipService membership,
        RoutingSettings settings, ILogger<ClusterRouting> logger)
    {
        _broker = broker;
        _local = local;
        _grains = grains;
        _membership = membership;
        _settings = settings;
        _logger = logger;
        Replica = new RouteReplica(StartOutbox);
    }

    /// <summary>What this node knows of the other nodes' filters.</summary>
    public RouteReplica Replica { get; }

    /// <summary>This node's id (its silo address).</summary>
    public string Self => _local.SiloAddress.ToParsableString();

    /// <summary>Messages other nodes forwarded here.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>What this node's queues for the other nodes counted since it started, those of nodes purged since included.</summary>
    public ForwardTotals Totals()
    {
        lock (_totalsLock)
        {
            var totals = default(ForwardTotals);
            foreach (var outbox in _deadOutboxes)
            {
                totals += outbox.Totals with { Queued = 0, Held = 0 };
            }

            foreach (var node in Replica.Known)
            {
                if (node.Outbox is { } outbox)
                {
                    totals += outbox.Totals;
                }
            }

            return totals;
        }
    }

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(ClusterRouting), ServiceLifecycleStage.Active, StartAsync, StopAsync);
    }

    private Task StartAsync(CancellationToken cancellationToken)
    {
        _broker.Attach(this);
        _loops.Add(Task.Run(() => SendFiltersLoopAsync(_stopping.Token), CancellationToken.None));
        _loops.Add(Task.Run(() => WatchMembershipAsync(_stopping.Token), CancellationToken.None));
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose()
    {
        _stopping.Dispose();
    }

    public void LocalFilterChanged(string filter, bool subscribed)
    {
        lock (_localLock)
        {
            if (subscribed)
            {
                _localFilters.Add(filter);
                if (_heldRemovals.Remove(filter))
                {
                    // Subscribed again before its removal went out: the other nodes never hear it was gone.
                    return;
                }
            }
            else if (Replica.IsMoving(filter))
            {
                // A moving session's: the other nodes keep sending its messages here, where they are refused, until its new node's
                // filters are known here (and about then everywhere).
                _heldRemovals.Add(filter);
                return;
            }
            else
            {
                _localFilters.Remove(filter);
            }

            _pending.Add(new FilterDelta(filter, subscribed));
        }

        _changed.Writer.TryWrite(true);
    }

    /// <summary>
    /// The session of <paramref name="clientId"/> moves to node <paramref name="newOwner"/>, which claimed it, and is given up here next:
    /// its route <paramref name="keys"/> that the node's filters do not have yet refuse QoS 1 and 2 messages here until they do, or for
    /// <see cref="RoutingSettings.MoveWaitLimit"/> at most, and their removals from this node's filters wait as long.
    /// </summary>
    public void Moving(string clientId, IReadOnlyCollection<string> keys, string newOwner)
    {
        var deadline = _time.GetTimestamp() + (long)(_settings.MoveWaitLimit.TotalSeconds * _time.TimestampFrequency);
        var refusing = Replica.Moving(newOwner, keys, deadline);
        if (refusing > 0)
        {
            Log.SessionMoving(_logger, clientId, newOwner, refusing);
            // At the limit, what is left of the move ends: the new node's filters did not show those keys in time.
            _ = AfterAsync(_settings.MoveWaitLimit, () =>
            {
                var overdue = Replica.Overdue(newOwner, deadline);
                if (overdue.Length > 0)
                {
                    Log.MoveNotSeenInTime(_logger, clientId, newOwner, overdue.Length, _settings.MoveWaitLimit.TotalSeconds);
                    ReleaseRemovals(overdue);
                }
            });
        }
    }

    /// <summary>Runs <paramref name="then"/> once <paramref name="delay"/> passed; not when this node stops first, unless <paramref name="alsoWhenStopping"/>.</summary>
    private async Task AfterAsync(TimeSpan delay, Action then, bool alsoWhenStopping = false)
    {
        try
        {
            await Task.Delay(delay, _time, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!alsoWhenStopping)
        {
            // This node stops.
            return;
        }
        catch (OperationCanceledException)
        {
            // This node stops, and what it does is due anyway.
        }

        then();
    }

    /// <summary>Sends the held removals of route <paramref name="keys"/> that no longer refuse with the next batch.</summary>
    private void ReleaseRemovals(string[] keys)
    {
        var released = false;
        lock (_localLock)
        {
            foreach (var key in keys)
            {
                // Another session moving away with the key keeps it held until that move ends too.
                if (!Replica.IsMoving(key) && _heldRemovals.Remove(key))
                {
                    _localFilters.Remove(key);
                    _pending.Add(new FilterDelta(key, Subscribed: false));
                    released = true;
                }
            }
        }

        if (released)
        {
            _changed.Writer.TryWrite(true);
        }
    }

    public int Forward(MqttMessage message, LocalShares shares, out Task? accepted)
    {
        accepted = null;
        if (message.Topic.StartsWith('$'))
        {
            // $SYS and the like describe this node: they stay here.
            return 0;
        }

        var targets = t_targets ??= [];
        var groups = t_groups ??= [];
        var turns = t_turns ??= [];
        var accepting = t_accepting ??= [];
        Replica.Match(message.Topic, targets, groups);
        try
        {
            if (groups.Count > 0)
            {
                GiveTurns(groups, shares, turns);
            }

            var queued = 0;
            foreach (var target in targets)
            {
                queued += Enqueue(target, message, toSubscribers: true, turns, accepting);
            }

            while (turns.Count > 0)
            {
                var node = turns[0].Node;
                queued += Enqueue(node, message, toSubscribers: false, turns, accepting);
                targets.Add(node);
            }

            if (message.Retain)
            {
                // The nodes without subscribers keep it too; they are not counted as reached.
                SendRetained(message, except: targets);
            }

            accepted = accepting.Count switch
            {
                0 => null,
                1 => accepting[0],
                _ => AllOf(accepting),
            };
            return queued;
        }
        finally
        {
            targets.Clear();
            groups.Clear();
            turns.Clear();
            accepting.Clear();
        }
    }

    /// <summary>One task for the acceptances of several nodes: the last one made when it was of the same acceptances.</summary>
    private static Task AllOf(List<Task> accepting)
    {
        if (t_lastAccepting is { } last && last.Parts.AsSpan().SequenceEqual(CollectionsMarshal.AsSpan(accepting)))
        {
            return last.All;
        }

        Task[] parts = [.. accepting];
        var all = AllAcceptedAsync(parts);
        t_lastAccepting = (parts, all);
        return all;
    }

    /// <summary>
    /// Completes when every node accepted; otherwise faults once all answered, with one <see cref="ForwardNotAcceptedException"/> that is
    /// <see cref="ForwardNotAcceptedException.NotTaken"/> only when no node took the message (one that did must not get it again).
    /// </summary>
    private static async Task AllAcceptedAsync(Task[] parts)
    {
        await Task.WhenAll(parts).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        ForwardNotAcceptedException? first = null;
        var notTaken = true;
        foreach (var part in parts)
        {
            var failure = part.Exception?.InnerException as ForwardNotAcceptedException;
            first ??= failure;
            notTaken &= failure is { NotTaken: true };
        }

        if (first is not null)
        {
            throw new ForwardNotAcceptedException(first.Message, notTaken);
        }
    }

    /// <summary>What a publisher's acknowledgement waits for when the node's queue was full: nothing, it is withheld.</summary>
    private static Task QueueFull(NodeRoutes node) =>
        Task.FromException(new ForwardNotAcceptedException($"the queue for node {node.Id} is full", notTaken: true));

    public void ShareRetained(MqttMessage message)
    {
        if (!message.Topic.StartsWith('$'))
        {
            SendRetained(message, except: []);
        }
    }

    /// <summary>Queues a retained message (or its deletion, an empty payload) for every other node but <paramref name="except"/>, to keep and deliver to no one.</summary>
    private void SendRetained(MqttMessage message, List<NodeRoutes> except)
    {
        foreach (var node in Replica.Known)
        {
            if (!except.Contains(node))
            {
                Queue(node, new Forward(message, ToSubscribers: false, SharedGroups: []));
            }
        }
    }

    /// <summary>
    /// Picks for each matching share group one node among those with members, this one included when it has some (5.0 §4.8.2: one
    /// member of the group gets the message), at random: the turns of the other nodes go to <paramref name="turns"/>, and the group's
    /// members here are given away then.
    /// </summary>
    private static void GiveTurns(List<SharedMatch<NodeRoutes>> groups, LocalShares shares, List<(NodeRoutes Node, string Group)> turns)
    {
        for (var i = 0; i < groups.Count; i++)
        {
            var group = groups[i];
            if (group.Owner is null)
            {
                // A node of a group already decided.
                continue;
            }

            var remote = 0;
            for (var j = i; j < groups.Count; j++)
            {
                remote += IsSameGroup(groups[j], group) ? 1 : 0;
            }

            var here = shares.Has(group.Group, group.Filter);
            var pick = Random.Shared.Next(remote + (here ? 1 : 0));
            for (var j = i; j < groups.Count; j++)
            {
                if (!IsSameGroup(groups[j], group))
                {
                    continue;
                }

                if (pick-- == 0)
                {
                    turns.Add((groups[j].Owner, groups[j].Key));
                    if (here)
                    {
                        shares.GiveAway(group.Group, group.Filter);
                    }
                }

                groups[j] = default;
            }
        }
    }

    private static bool IsSameGroup(SharedMatch<NodeRoutes> candidate, SharedMatch<NodeRoutes> group) =>
        candidate.Owner is not null && candidate.Group == group.Group && candidate.Filter == group.Filter;

    /// <summary>
    /// Queues the message for <paramref name="node"/> with the groups whose turn it has, taken out of <paramref name="turns"/>; 1 when
    /// queued. A QoS 1 or 2 message adds what its publisher's acknowledgement waits for to <paramref name="accepting"/>.
    /// </summary>
    private static int Enqueue(NodeRoutes node, MqttMessage message, bool toSubscribers, List<(NodeRoutes Node, string Group)> turns,
        List<Task> accepting)
    {
        var count = 0;
        foreach (var turn in turns)
        {
            count += ReferenceEquals(turn.Node, node) ? 1 : 0;
        }

        var sharedGroups = count == 0 ? [] : new string[count];
        if (count > 0)
        {
            var kept = 0;
            var taken = 0;
            for (var i = 0; i < turns.Count; i++)
            {
                if (ReferenceEquals(turns[i].Node, node))
                {
                    sharedGroups[taken++] = turns[i].Group;
                }
                else
                {
                    turns[kept++] = turns[i];
                }
            }

            turns.RemoveRange(kept, turns.Count - kept);
        }

        if (node.Refusal is { } refusal)
        {
            // Dead, its sessions not adopted yet (or a session moving away): a QoS 1 or 2 message is not acknowledged, and is sent again.
            if (message.QualityOfService != QualityOfService.AtMostOnce)
            {
                accepting.Add(refusal);
            }

            return 0;
        }

        if (message.QualityOfService == QualityOfService.AtMostOnce)
        {
            return Queue(node, new Forward(message, toSubscribers, sharedGroups)) ? 1 : 0;
        }

        if (node.Outbox is not { } outbox)
        {
            return 0;
        }

        if (outbox.TryEnqueueHeld(message, toSubscribers, sharedGroups) is not { } accepted)
        {
            accepting.Add(QueueFull(node));
            return 0;
        }

        if (!accepting.Contains(accepted))
        {
            accepting.Add(accepted);
        }

        Wake(outbox);
        return 1;
    }

    public void BeginBatch() => t_holding = true;

    public void EndBatch()
    {
        t_holding = false;
        if (t_held is { Count: > 0 } held)
        {
            foreach (var outbox in held)
            {
                outbox.Wake();
            }

            held.Clear();
        }
    }

    /// <summary>Queues <paramref name="forward"/> for <paramref name="node"/> and wakes its sender, or holds the wake until the batch ends.</summary>
    private static bool Queue(NodeRoutes node, in Forward forward)
    {
        if (node.Outbox is not { } outbox || !outbox.TryEnqueue(forward))
        {
            return false;
        }

        Wake(outbox);
        return true;
    }

    /// <summary>Wakes the sender of <paramref name="outbox"/>, or holds the wake until the batch ends.</summary>
    private static void Wake(ForwardQueue outbox)
    {
        if (!t_holding)
        {
            outbox.Wake();
        }
        else if (!(t_held ??= []).Contains(outbox))
        {
            t_held.Add(outbox);
        }
    }

    /// <summary>The filters routed to <paramref name="node"/> (this node's own for itself); null when none are known of it.</summary>
    public int? FilterCount(string node)
    {
        if (node == Self)
        {
            lock (_localLock)
            {
                return _localFilters.Count;
            }
        }

        return Replica.CountOf(node);
    }

    /// <summary>This node's filters with the number of its last batch, consistent with each other, and the dead nodes it adopted.</summary>
    public FilterSnapshot LocalSnapshot()
    {
        // The filters may include changes of the next batch, not yet numbered: applying that batch on top changes nothing more.
        lock (_localLock)
        {
            return new FilterSnapshot(_sequence, [.. _localFilters], [.. _adopted]);
        }
    }

    public async Task ApplyFiltersAsync(string from, FilterBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var outcome = Replica.Apply(from, batch);
        if (outcome == BatchOutcome.Applied)
        {
            PurgeAdopted(from, batch.Adopted);
            ReleaseRemovals(Replica.Arrived(from));
        }

        if (outcome != BatchOutcome.Gap)
        {
            return;
        }

        var snapshot = await _grains.GetGrain<IRoutesGrain>(from).GetFiltersAsync().WaitAsync(_settings.CallTimeout).ConfigureAwait(false);
        if (Replica.ApplySnapshot(from, snapshot))
        {
            Log.SnapshotApplied(_logger, from, snapshot.Sequence, snapshot.Filters.Length);
            PurgeAdopted(from, snapshot.Adopted);
            ReleaseRemovals(Replica.Arrived(from));
        }
    }

    /// <summary>Purges the dead nodes <paramref name="adopter"/> adopted, now that its filters (their sessions' among them) are applied.</summary>
    private void PurgeAdopted(string adopter, string[] adopted)
    {
        foreach (var node in adopted)
        {
            Purge(node, "its sessions were adopted by node " + adopter);
        }
    }

    /// <summary>
    /// This node adopted the sessions of dead node <paramref name="node"/> (or found none to adopt): their subscriptions are in its tree
    /// now, so its filters are forgotten here, and the other nodes forget them after applying this node's next batch, which tells them.
    /// </summary>
    public void Adopted(string node)
    {
        lock (_localLock)
        {
            if (!_adopted.Add(node))
            {
                return;
            }

            _pendingAdopted.Add(node);
        }

        Purge(node, "this node adopted its sessions");
        _changed.Writer.TryWrite(true);
    }

    /// <summary>
    /// Delivers a batch another node forwarded to this node's sessions; completes when what that stored for persistent sessions is
    /// committed (strict durability), in one commit with <paramref name="receipt"/> when the sender asked for one: then this node has
    /// accepted it, and the publishers on the other node are acknowledged. A QoS 1 or 2 message for a session moving away from this
    /// node faults it once the batch is delivered here: its publishers send the batch's messages again
    /// (docs/clustering.md#a-moving-sessions-routes).
    /// </summary>
    public Task Deliver(ForwardedMessage[] messages, ForwardReceipt? receipt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var now = _time.GetTimestamp();
        var utcNow = _time.GetUtcNow();
        Task? refusal = null;
        _broker.BeginDeliveries();
        try
        {
            foreach (var forwarded in messages)
            {
                var expiresAt = forwarded.ExpiresIn is { } seconds ? utcNow.AddSeconds(seconds) : (DateTimeOffset?)null;
                var message = MqttMessage.Restore(forwarded.Topic, forwarded.Payload, (QualityOfService)forwarded.QualityOfService, forwarded.Retain,
                    forwarded.Properties, expiresAt, forwarded.PublisherId).OnClock(_time, now, utcNow);
                _broker.Deliver(message, forwarded.ToSubscribers, forwarded.SharedGroups);
                if (refusal is null && message.QualityOfService != QualityOfService.AtMostOnce && Replica.HasMoving)
                {
                    refusal = Replica.MovedRefusal(forwarded.Topic, forwarded.ToSubscribers, forwarded.SharedGroups);
                }
            }
        }
        catch
        {
            // No receipt for a batch delivered in part: its sender must not take it as delivered. The commit is ended all the same.
            _broker.EndDeliveries(receipt: null);
            throw;
        }

        Interlocked.Add(ref _received, messages.Length);
        var committed = _broker.EndDeliveries(receipt);
        return refusal is null ? committed ?? Task.CompletedTask : RefuseAfterAsync(committed, refusal);
    }

    /// <summary>Faults with <paramref name="refusal"/> once what the batch stored here is committed (or failed to be).</summary>
    private static async Task RefuseAfterAsync(Task? committed, Task refusal)
    {
        if (committed is not null)
        {
            await committed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await refusal.ConfigureAwait(false);
    }

    /// <summary>
    /// Completes once this node's filters as of now reached every other active node: the batch with its changes so far (or, without
    /// changes, the next heartbeat) was sent to each, which applied it (or, on a gap, the snapshot it asked for) before answering; a
    /// send that failed is not waited for again. Never completes once this node stops: callers bound it.
    /// </summary>
    public Task FlushFiltersAsync()
    {
        TaskCompletionSource sent;
        lock (_localLock)
        {
            var wanted = _pending.Count > 0 || _pendingAdopted.Count > 0 ? _sequence + 1 : _sequence;
            sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _flushes.Add((wanted, sent));
        }

        _changed.Writer.TryWrite(true);
        return sent.Task;
    }

    /// <summary>Batch (or heartbeat) <paramref name="sequence"/> was sent to every other active node: the flushes it covers complete.</summary>
    private void Sent(long sequence)
    {
        lock (_localLock)
        {
            for (var i = _flushes.Count - 1; i >= 0; i--)
            {
                if (_flushes[i].Sequence <= sequence)
                {
                    _flushes[i].Sent.TrySetResult();
                    _flushes.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>Sends this node's filter changes as numbered batches to every other active node, and a heartbeat when there are none.</summary>
    private async Task SendFiltersLoopAsync(CancellationToken stopping)
    {
        Task<bool>? changed = null;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                // One wait for a change at a time, kept across heartbeats.
                changed ??= _changed.Reader.WaitToReadAsync(stopping).AsTask();
                if (await Task.WhenAny(changed, Task.Delay(_settings.HeartbeatInterval, stopping)).ConfigureAwait(false) == changed)
                {
                    changed = null;
                    if (_settings.FilterWindow > TimeSpan.Zero)
                    {
                        await Task.Delay(_settings.FilterWindow, stopping).ConfigureAwait(false);
                    }

                    _changed.Reader.TryRead(out _);
                }

                stopping.ThrowIfCancellationRequested();

                FilterBatch batch;
                lock (_localLock)
                {
                    batch = _pending.Count == 0 && _pendingAdopted.Count == 0
                        ? new FilterBatch(_sequence, [], [])
                        : new FilterBatch(++_sequence, [.. _pending], [.. _pendingAdopted]);
                    _pending.Clear();
                    _pendingAdopted.Clear();
                }

                var peers = Volatile.Read(ref _peers);
                var sends = new Task[peers.Length];
                for (var i = 0; i < peers.Length; i++)
                {
                    sends[i] = SendFiltersAsync(peers[i], batch, stopping);
                }

                await Task.WhenAll(sends).ConfigureAwait(false);
                Sent(batch.Sequence);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task SendFiltersAsync(SiloAddress peer, FilterBatch batch, CancellationToken stopping)
    {
        try
        {
            await _grains.GetGrain<IRoutesGrain>(peer.ToParsableString()).ApplyFiltersAsync(Self, batch)
                .WaitAsync(_settings.CallTimeout, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            // The next batch or heartbeat shows the gap, and the peer asks for a snapshot.
            Log.FiltersNotSent(_logger, peer.ToParsableString(), batch.Sequence, e.Message);
        }
    }

    /// <summary>Follows the membership: the active nodes get the filter batches, a node declared dead is buried.</summary>
    private async Task WatchMembershipAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var snapshot in _membership.MembershipUpdates.WithCancellation(stopping).ConfigureAwait(false))
            {
                var peers = new List<SiloAddress>();
                foreach (var (address, member) in snapshot.Members)
                {
                    if (address.Equals(_local.SiloAddress))
                    {
                        continue;
                    }

                    if (member.Status == SiloStatus.Active)
                    {
                        peers.Add(address);
                    }
                    else if (member.Status == SiloStatus.Dead)
                    {
                        Bury(address.ToParsableString());
                    }
                }

                Volatile.Write(ref _peers, [.. peers]);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// A node declared dead: what was queued for it is given up, and its filters stay, refusing QoS 1 and 2 messages, until its sessions
    /// are adopted (<see cref="Adopted"/>, here or on another node) or for <see cref="RoutingSettings.AdoptionWaitLimit"/> at most.
    /// </summary>
    public void Bury(string node)
    {
        lock (_totalsLock)
        {
            if (Replica.Bury(node) is not { } routes)
            {
                return;
            }

            Abandon(routes);
            Log.NodeBuried(_logger, node, routes.Filters.Count, routes.Outbox?.Lost ?? 0);
            // A held acknowledgement waits ForwardAckTimeout at most, as one held for another node does (on a stop too).
            _ = AfterAsync(_settings.ForwardAckTimeout, routes.RefuseHeld, alsoWhenStopping: true);
        }

        _ = AfterAsync(_settings.AdoptionWaitLimit, () =>
        {
            if (Purge(node, $"no node adopted its sessions within {_settings.AdoptionWaitLimit.TotalSeconds:N0} s"))
            {
                Log.NotAdoptedInTime(_logger, node, _settings.AdoptionWaitLimit.TotalSeconds);
            }
        });
    }

    /// <summary>Forgets the filters of a dead node (buried or not yet) and what was queued for it; false when they were forgotten already.</summary>
    public bool Purge(string node, string reason)
    {
        lock (_totalsLock)
        {
            if (Replica.Purge(node) is not { } routes)
            {
                return false;
            }

            if (routes.Refusal is null)
            {
                // Not buried first (another node's adoption told of its death before the membership did).
                Abandon(routes);
            }

            // Its sessions' new homes are known now: the publishers whose acknowledgement was held send again, and reach them.
            routes.RefuseHeld();
            Log.NodePurged(_logger, node, reason);
            return true;
        }
    }

    /// <summary>Gives up what was queued for a dead node; its sender stops after the call in flight, which still counts in the totals.</summary>
    private void Abandon(NodeRoutes routes)
    {
        if (routes.Outbox is { } outbox)
        {
            outbox.Abandon();
            _deadOutboxes.Add(outbox);
        }
    }

    /// <summary>The queue of messages for a node first heard of, with its sender running until the node is purged or this one stops.</summary>
    private ForwardQueue StartOutbox(string node)
    {
        var self = Self;
        var receipts = new ReceiptFence(self, () => _broker.KeepsForwardReceipts,
            (sequences, cancellation) => _broker.FenceForwardsAsync(self, node, sequences, cancellation),
            (taken, notTaken, unknown) => Log.DoubtsResolved(_logger, node, taken, notTaken,
                unknown is null ? "as its receipts in the store tell" : "the store could not tell, so they may have been delivered: " + unknown));
        var outbox = new ForwardQueue(_settings, node, _time, receipts);
        var grain = _grains.GetGrain<IRoutesGrain>(node);
        _ = Task.Run(() => outbox.RunAsync((batch, receipt) => grain.DeliverAsync(batch, receipt).WaitAsync(_settings.CallTimeout),
            (count, e) => Log.ForwardFailed(_logger, count, node, e.Message), _time, _stopping.Token), CancellationToken.None);
        return outbox;
    }

    private static partial class Log
    {
        [LoggerMessage(1500, LogLevel.Information, "Cluster routing: the filters of node {Node} taken from its snapshot at batch {Sequence} ({Count} filters)")]
        public static partial void SnapshotApplied(ILogger logger, string node, long sequence, int count);

        [LoggerMessage(1501, LogLevel.Debug, "Cluster routing: filter batch {Sequence} not sent to node {Node}: {Reason}")]
        public static partial void FiltersNotSent(ILogger logger, string node, long sequence, string reason);

        [LoggerMessage(1502, LogLevel.Warning, "Cluster routing: {Count} messages forwarded to node {Node} may be lost: {Reason}")]
        public static partial void ForwardFailed(ILogger logger, int count, string node, string reason);

        [LoggerMessage(1503, LogLevel.Information, "Cluster routing: node {Node} is dead ({Lost} messages for it lost): its {Count} filters stay " +
            "until its sessions are adopted, and QoS 1 and 2 messages matching them are not accepted meanwhile")]
        public static partial void NodeBuried(ILogger logger, string node, int count, long lost);

        [LoggerMessage(1504, LogLevel.Information, "Cluster routing: the filters of dead node {Node} are purged: {Reason}")]
        public static partial void NodePurged(ILogger logger, string node, string reason);

        [LoggerMessage(1505, LogLevel.Warning, "Cluster routing: no node said it adopted the sessions of dead node {Node} within {Limit} s; " +
            "its filters are purged, and messages for its sessions are not kept until their clients come back")]
        public static partial void NotAdoptedInTime(ILogger logger, string node, double limit);

        [LoggerMessage(1506, LogLevel.Information, "Cluster routing: of the messages in calls to dead node {Node} that failed and may have " +
            "reached it, {Taken} were committed there (acknowledged) and {NotTaken} were not (their publishers send them again); {Outcome}")]
        public static partial void DoubtsResolved(ILogger logger, string node, int taken, int notTaken, string outcome);

        [LoggerMessage(1580, LogLevel.Debug, "Cluster routing: client {ClientId}'s session moves to node {Node}: {Count} of its route keys " +
            "refuse QoS 1 and 2 messages here, and their removal waits, until that node's filters have them")]
        public static partial void SessionMoving(ILogger logger, string clientId, string node, int count);

        [LoggerMessage(1581, LogLevel.Warning, "Cluster routing: the filters of node {Node} did not show {Count} route keys of client " +
            "{ClientId}'s session (or of sessions that moved there with it) within {Limit} s; they no longer refuse here and their removal " +
            "goes out, and messages for them published meanwhile may match no node")]
        public static partial void MoveNotSeenInTime(ILogger logger, string clientId, string node, int count, double limit);
    }
}
