using System.Buffers;
using System.Collections;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// One accepted socket as Kestrel's <see cref="ConnectionContext"/>: the context, its duplex pipe and its feature
/// collection in one object, with an input and an output that hold no buffer while the connection is idle. The
/// features a connection has of itself (id, transport, items, end points, lifetime, memory pool) are this object; those others set
/// (Kestrel's, TLS's) are kept in a small list made on the first one.
/// </summary>
internal sealed class MqttSocketConnection : ConnectionContext, IDuplexPipe, IFeatureCollection, IConnectionIdFeature,
    IConnectionTransportFeature, IConnectionItemsFeature, IConnectionEndPointFeature, IConnectionLifetimeFeature, IMemoryPoolFeature
{
    /// <summary>
    /// Room for the features Kestrel sets on every connection (heartbeat, completion, lifetime notification, metrics
    /// context and tags) and one more, in one array; TLS's features make it grow once.
    /// </summary>
    private const int FirstFeatures = 6;

    private static long s_lastId;

    private readonly Socket _socket;
    private readonly MemoryPool<byte> _pool;
    private readonly SocketInput _input;
    private readonly SocketOutput _output;
    private IDuplexPipe? _transport;
    private string? _id;
    private IDictionary<object, object?>? _items;
    private EndPoint? _localEndPoint;
    private EndPoint? _remoteEndPoint;
    private KeyValuePair<Type, object>[]? _features;
    private int _featureCount;
    private int _revision;
    private CancellationTokenSource? _closed;
    private int _ended;

    public MqttSocketConnection(Socket socket, MemoryPool<byte> pool)
    {
        _socket = socket;
        _pool = pool;
        _input = new SocketInput(this, socket, pool);
        _output = new SocketOutput(socket, pool);
    }

    public override string ConnectionId
    {
        get => _id ??= Interlocked.Increment(ref s_lastId).ToString("x", CultureInfo.InvariantCulture);
        set => _id = value;
    }

    public override IFeatureCollection Features => this;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    public override IDuplexPipe Transport
    {
        get => _transport ?? this;
        set => _transport = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _localEndPoint ??= _socket.LocalEndPoint;
        set => _localEndPoint = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _remoteEndPoint ??= _socket.RemoteEndPoint;
        set => _remoteEndPoint = value;
    }

    public override CancellationToken ConnectionClosed
    {
        get
        {
            var closed = Volatile.Read(ref _closed);
            if (closed is null)
            {
                closed = Interlocked.CompareExchange(ref _closed, new CancellationTokenSource(), null) ?? _closed;
                if (Volatile.Read(ref _ended) == 1)
                {
                    closed.Cancel();
                }
            }

            return closed.Token;
        }
        set => throw new NotSupportedException("The connection's closed token is its own.");
    }

    /// <summary>The accepted socket (tests look at what .NET keeps for it).</summary>
    internal Socket Socket => _socket;

    /// <summary>The transport's pool, for what runs on top (TLS, HTTP) as Kestrel's transport offers its own.</summary>
    MemoryPool<byte> IMemoryPoolFeature.MemoryPool => _pool;

    PipeReader IDuplexPipe.Input => _input;

    PipeWriter IDuplexPipe.Output => _output;

    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _revision;

    object? IFeatureCollection.this[Type key]
    {
        get => Find(key);
        set => Store(key, value);
    }

    /// <summary>
    /// Closes the socket at once: a waiting read fails with <paramref name="abortReason"/>, sends fail. The buffers stay
    /// until <see cref="DisposeAsync"/>, as the writer may be filling one on another thread right now. Closing takes the
    /// socket out of the readiness poller without an event, so here and in <see cref="DisposeAsync"/> the input's
    /// receive is woken to see the socket closed.
    /// </summary>
    public override void Abort(ConnectionAbortedException abortReason)
    {
        _input.Abort(abortReason);
        _socket.Dispose();
        _input.Wake();
        OnInputEnded();
    }

    public override ValueTask DisposeAsync()
    {
        _input.Complete();
        _output.Complete();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already reset or closed by the client.
        }

        _socket.Dispose();
        _input.Wake();
        _output.Release();
        OnInputEnded();
        return base.DisposeAsync();
    }

    TFeature? IFeatureCollection.Get<TFeature>() where TFeature : default => (TFeature?)Find(typeof(TFeature));

    void IFeatureCollection.Set<TFeature>(TFeature? instance) where TFeature : default => Store(typeof(TFeature), instance);

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        for (var i = 0; i < _featureCount; i++)
        {
            yield return _features![i];
        }

        foreach (var own in OwnFeatures)
        {
            if (Find(own) == this)
            {
                yield return new KeyValuePair<Type, object>(own, this);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)this).GetEnumerator();

    /// <summary>The input saw the end (the client closed, reset, or the connection was aborted or disposed): once, the closed token fires.</summary>
    internal void OnInputEnded()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0 && Volatile.Read(ref _closed) is { } closed)
        {
            // Not on the caller's thread: those registered may do anything (Kestrel's HTTP aborts its requests).
            ThreadPool.UnsafeQueueUserWorkItem(static source => source.Cancel(), closed, preferLocal: false);
        }
    }

    private static readonly Type[] OwnFeatures =
    [
        typeof(IConnectionIdFeature), typeof(IConnectionTransportFeature), typeof(IConnectionItemsFeature),
        typeof(IConnectionEndPointFeature), typeof(IConnectionLifetimeFeature), typeof(IMemoryPoolFeature),
    ];

    private object? Find(Type key)
    {
        for (var i = 0; i < _featureCount; i++)
        {
            if (_features![i].Key == key)
            {
                return _features[i].Value;
            }
        }

        return Array.IndexOf(OwnFeatures, key) >= 0 ? this : null;
    }

    private void Store(Type key, object? value)
    {
        _revision++;
        for (var i = 0; i < _featureCount; i++)
        {
            if (_features![i].Key == key)
            {
                if (value is null)
                {
                    _features[i] = _features[--_featureCount];
                    _features[_featureCount] = default;
                }
                else
                {
                    _features[i] = new KeyValuePair<Type, object>(key, value);
                }

                return;
            }
        }

        if (value is null)
        {
            return;
        }

        if (_features is null || _featureCount == _features.Length)
        {
            Array.Resize(ref _features, _featureCount == 0 ? FirstFeatures : _featureCount * 2);
        }

        _features[_featureCount++] = new KeyValuePair<Type, object>(key, value);
    }
}
