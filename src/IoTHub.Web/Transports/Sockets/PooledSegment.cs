using System.Buffers;
using System.Runtime.InteropServices;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// One buffer of a connection's input or output: a block of the transport's pool, or for a larger write an array of
/// the shared array pool. It is taken when data comes or is written and returned once that data is read or sent, so
/// an idle connection holds none.
/// </summary>
internal sealed class PooledSegment : ReadOnlySequenceSegment<byte>
{
    private IMemoryOwner<byte>? _block;
    private byte[]? _array;

    public PooledSegment(MemoryPool<byte> pool, int minimumSize)
    {
        if (minimumSize <= pool.MaxBufferSize)
        {
            _block = pool.Rent();
            Memory = _block.Memory;
        }
        else
        {
            _array = ArrayPool<byte>.Shared.Rent(minimumSize);
            Memory = _array;
        }
    }

    /// <summary>A block of the transport's pool already rented.</summary>
    public PooledSegment(IMemoryOwner<byte> block)
    {
        _block = block;
        Memory = block.Memory;
    }

    /// <summary>Bytes received into it (input) or written into it (output), from its start.</summary>
    public int Filled { get; set; }

    public int Capacity => Memory.Length;

    public PooledSegment? NextSegment => (PooledSegment?)Next;

    /// <summary>The part not filled yet.</summary>
    public Memory<byte> Free => MemoryMarshal.AsMemory(Memory)[Filled..];

    public Memory<byte> Slice(int start, int end) => MemoryMarshal.AsMemory(Memory)[start..end];

    /// <summary>Links <paramref name="next"/> after this one, which must be full when it is read as one sequence.</summary>
    public void Append(PooledSegment next)
    {
        next.RunningIndex = RunningIndex + Capacity;
        Next = next;
    }

    /// <summary>Returns its memory to the pool it came from; the segment is not used again.</summary>
    public void Release()
    {
        _block?.Dispose();
        if (_array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
        }

        _block = null;
        _array = null;
        Memory = default;
        Next = null;
    }

    /// <summary>Releases this segment and every one linked after it.</summary>
    public static void ReleaseAll(PooledSegment? first)
    {
        while (first is not null)
        {
            var next = first.NextSegment;
            first.Release();
            first = next;
        }
    }
}

/// <summary>
/// A connection's segments in order, from the first with bytes not yet read (input) or sent (output) to the one being
/// filled; a mutable struct kept in a field and changed in place.
/// </summary>
internal struct SegmentChain
{
    public PooledSegment? Head;
    public PooledSegment? Tail;

    /// <summary>Where the first byte not yet read or sent is in <see cref="Head"/>.</summary>
    public int HeadOffset;

    public void Append(PooledSegment fresh)
    {
        if (Tail is null)
        {
            Head = fresh;
            HeadOffset = 0;
        }
        else
        {
            Tail.Append(fresh);
        }

        Tail = fresh;
    }

    /// <summary>Returns the first segment, all read or sent, to its pool.</summary>
    public void ReleaseHead()
    {
        var next = Head!.NextSegment;
        Head.Release();
        Head = next;
        HeadOffset = 0;
    }

    public void ReleaseAll()
    {
        PooledSegment.ReleaseAll(Head);
        Head = Tail = null;
        HeadOffset = 0;
    }
}
