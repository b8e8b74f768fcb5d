using System.Globalization;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace IoTHub.Cluster.Membership;

/// <summary>What this node does when it loses its cluster's membership store, and when it has it back (the host's brokers stop and resume serving).</summary>
internal interface INodeFence
{
    /// <summary>The node must stop serving clients: it cannot learn whether the others declared it dead.</summary>
    void Fence(string reason);

    /// <summary>The store answers again: the node may serve again.</summary>
    void Lift();
}

/// <summary>
/// Split brain (docs/clustering.md#split-brain): a node that cannot read or write its membership store cannot learn that
/// the others declared it dead, so it could go on serving clients whose sessions live on elsewhere. Every operation of
/// the membership table reports here; once the node is active, when no operation has succeeded for
/// <see cref="ClusterNodeSettings.StoreLossBound"/> the node is fenced, and the next success lifts the fence. Checked
/// once a probe period; nothing runs per message.
/// </summary>
internal sealed partial class MembershipStoreWatch(ClusterNodeSettings settings, INodeFence fence, TimeProvider time, ILogger<MembershipStoreWatch> logger)
    : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly Lock _lock = new();
    private long _lastSuccess = time.GetTimestamp();
    private string _lastFailure = "no answer";
    private bool _fenced;
    private ITimer? _timer;

    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(MembershipStoreWatch), ServiceLifecycleStage.Active, _ => Start(), _ => Stop());
    }

    /// <summary>An operation on the membership store succeeded.</summary>
    public void Succeeded()
    {
        lock (_lock)
        {
            _lastSuccess = time.GetTimestamp();
            if (!_fenced)
            {
                return;
            }

            _fenced = false;
        }

        Log.StoreBack(logger);
        fence.Lift();
    }

    /// <summary>An operation on the membership store failed; what failed is said when the node is fenced.</summary>
    public void Failed(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        lock (_lock)
        {
            _lastFailure = exception.Message;
        }
    }

    public void Dispose() => _timer?.Dispose();

    private Task Start()
    {
        lock (_lock)
        {
            _lastSuccess = time.GetTimestamp();
        }

        _timer = time.CreateTimer(static watch => ((MembershipStoreWatch)watch!).Check(), this, settings.ProbeTimeout, settings.ProbeTimeout);
        return Task.CompletedTask;
    }

    private Task Stop()
    {
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    private void Check()
    {
        string reason;
        lock (_lock)
        {
            var silent = time.GetElapsedTime(_lastSuccess);
            if (_fenced || silent <= settings.StoreLossBound)
            {
                return;
            }

            _fenced = true;
            reason = string.Create(CultureInfo.InvariantCulture,
                $"the cluster's membership store has not answered for {silent.TotalSeconds:0.0} s (bound {settings.StoreLossBound.TotalSeconds:0.#} s): {_lastFailure}");
        }

        Log.StoreLost(logger, reason);
        fence.Fence(reason);
    }

    private static partial class Log
    {
        [LoggerMessage(1510, LogLevel.Error, "Split brain guard: this node stops taking MQTT clients and closes its connections: {Reason}")]
        public static partial void StoreLost(ILogger logger, string reason);

        [LoggerMessage(1511, LogLevel.Warning, "Split brain guard: the cluster's membership store answers again: this node takes MQTT clients again")]
        public static partial void StoreBack(ILogger logger);
    }
}
