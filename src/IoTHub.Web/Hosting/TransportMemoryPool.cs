using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace IoTHub.Web.Hosting;

/// <summary>
/// The memory Kestrel's socket transport receives into and sends from, in 64 KB blocks instead of its
/// default 4 KB. The transport receives at most one block per system call and wakes the reader after
/// each, so a 64 KB PUBLISH took 16 receives: with 64 KB blocks, point-to-point QoS 0 with 64 KB payloads
/// went from 125 to 64 µs of broker CPU per message (docs/benchmarks.md). Idle connections hold no block,
/// as the transport waits for data before it takes one. Blocks are pinned and reused; those that stayed
/// free through a whole <see cref="TrimPeriod"/> go back to the GC, so the pool follows the load rather
/// than keeping its peak.
/// </summary>
internal sealed class TransportMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;

    public static readonly TimeSpan TrimPeriod = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<Block> _free = new();
    private readonly ITimer _trimTimer;
    private int _freeCount;

    // The fewest free blocks seen since the last trim: that many were not needed during the period.
    private int _fewestFree;

    public TransportMemoryPool(TimeProvider time)
    {
        _trimTimer = time.CreateTimer(static pool => ((TransportMemoryPool)pool!).Trim(), this, TrimPeriod, TrimPeriod);
    }

    public override int MaxBufferSize => BlockSize;

    /// <summary>Blocks returned and waiting for reuse.</summary>
    public int FreeBlocks => Volatile.Read(ref _freeCount);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (!_free.TryDequeue(out var block))
        {
            return new Block(this);
        }

        var left = Interlocked.Decrement(ref _freeCount);
        int fewest;
        while (left < (fewest = Volatile.Read(ref _fewestFree)) && Interlocked.CompareExchange(ref _fewestFree, left, fewest) != fewest)
        {
        }

        block.Rented();
        return block;
    }

    /// <summary>Lets the GC have the blocks that stayed free since the last trim (the timer calls it every period).</summary>
    internal void Trim()
    {
        var surplus = Volatile.Read(ref _fewestFree);
        for (var i = 0; i < surplus && _free.TryDequeue(out _); i++)
        {
            Interlocked.Decrement(ref _freeCount);
        }

        Volatile.Write(ref _fewestFree, Volatile.Read(ref _freeCount));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _trimTimer.Dispose();
            _free.Clear();
        }
    }

    private void Return(Block block)
    {
        _free.Enqueue(block);
        Interlocked.Increment(ref _freeCount);
    }

    private sealed class Block(TransportMemoryPool pool) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);
        private int _rented = 1;

        public Memory<byte> Memory => _array;

        public void Rented() => Volatile.Write(ref _rented, 1);

        /// <summary>Returns the block once; a second dispose must not let two owners share it.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _rented, 0) == 1)
            {
                pool.Return(this);
            }
        }
    }
}

/// <summary>Gives Kestrel's transports a <see cref="TransportMemoryPool"/>.</summary>
internal sealed class TransportMemoryPoolFactory(TimeProvider time) : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new TransportMemoryPool(time);
}

internal static class TransportMemory
{
    /// <summary>Kestrel resolves its transports' memory pool factory from the services: this one replaces its own.</summary>
    public static IServiceCollection AddTransportMemoryPool(this IServiceCollection services) =>
        services.AddSingleton<IMemoryPoolFactory<byte>, TransportMemoryPoolFactory>();
}
