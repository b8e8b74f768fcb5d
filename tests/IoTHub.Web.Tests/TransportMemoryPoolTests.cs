using System.Runtime.InteropServices;
using IoTHub.Web.Hosting;

namespace IoTHub.Web.Tests;

/// <summary>The pool Kestrel's transports read into and send from (64 KB blocks, reused, trimmed).</summary>
public sealed class TransportMemoryPoolTests : IDisposable
{
    private readonly TransportMemoryPool _pool = new(TimeProvider.System);

    public void Dispose() => _pool.Dispose();

    private static byte[] ArrayOf(Memory<byte> memory) =>
        MemoryMarshal.TryGetArray<byte>(memory, out var segment) ? segment.Array! : throw new InvalidOperationException("not an array");

    [Fact]
    public void Every_rent_up_to_a_block_gets_a_whole_block_and_larger_ones_are_refused()
    {
        foreach (var size in new[] { -1, 1, 2048, TransportMemoryPool.BlockSize })
        {
            using var block = _pool.Rent(size);
            Assert.Equal(TransportMemoryPool.BlockSize, block.Memory.Length);
        }

        Assert.Equal(TransportMemoryPool.BlockSize, _pool.MaxBufferSize);
        Assert.Throws<ArgumentOutOfRangeException>(() => _pool.Rent(TransportMemoryPool.BlockSize + 1));
    }

    [Fact]
    public void A_returned_block_is_reused_and_a_second_return_does_not_hand_it_out_twice()
    {
        var first = _pool.Rent();
        var array = ArrayOf(first.Memory);
        first.Dispose();
        first.Dispose();
        Assert.Equal(1, _pool.FreeBlocks);

        using var again = _pool.Rent();
        using var other = _pool.Rent();
        Assert.Same(array, ArrayOf(again.Memory));
        Assert.NotSame(array, ArrayOf(other.Memory));
        Assert.Equal(0, _pool.FreeBlocks);
    }

    [Fact]
    public void Trimming_keeps_the_blocks_the_last_period_needed_and_releases_the_rest()
    {
        var peak = Enumerable.Range(0, 10).Select(_ => _pool.Rent()).ToList();
        peak.ForEach(block => block.Dispose());
        Assert.Equal(10, _pool.FreeBlocks);

        // Ten blocks were in use during the first period: none is surplus yet.
        _pool.Trim();
        Assert.Equal(10, _pool.FreeBlocks);

        // The next period needs three at most: the seven that stayed free go.
        var load = Enumerable.Range(0, 3).Select(_ => _pool.Rent()).ToList();
        load.ForEach(block => block.Dispose());
        _pool.Trim();
        Assert.Equal(3, _pool.FreeBlocks);

        // A quiet period releases everything.
        _pool.Trim();
        Assert.Equal(0, _pool.FreeBlocks);
    }
}
