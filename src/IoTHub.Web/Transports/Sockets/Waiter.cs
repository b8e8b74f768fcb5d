using System.Threading.Tasks.Sources;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// The value task of a read or a flush that has to wait for the socket, reused for every wait: completed by the socket's
/// side, or cancelled by the caller's token. Made on a connection's first wait, so an output that never waits has none.
/// </summary>
internal sealed class Waiter<TResult> : IValueTaskSource<TResult>
{
    private ManualResetValueTaskSourceCore<TResult> _core;
    private CancellationTokenRegistration _cancellation;

    /// <summary>Starts a wait; <paramref name="onCancel"/> is called with <paramref name="owner"/> if the token is cancelled first.</summary>
    public ValueTask<TResult> Start(Action<object?, CancellationToken> onCancel, object owner, CancellationToken token)
    {
        _core.Reset();
        if (token.CanBeCanceled)
        {
            _cancellation = token.UnsafeRegister(onCancel, owner);
        }

        return new ValueTask<TResult>(this, _core.Version);
    }

    /// <summary>
    /// Ends the wait with a result or an error. From the socket's completion the waiter goes on on that thread
    /// (<paramref name="asynchronously"/> false); from anyone else on the thread pool, not inside the caller.
    /// </summary>
    public void Complete(TResult result, Exception? error, bool asynchronously)
    {
        _cancellation.Unregister();
        _cancellation = default;
        _core.RunContinuationsAsynchronously = asynchronously;
        if (error is null)
        {
            _core.SetResult(result);
        }
        else
        {
            _core.SetException(error);
        }
    }

    TResult IValueTaskSource<TResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<TResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<TResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
