using System.Net.Sockets;
using System.Runtime.InteropServices;
using IoTHub.Broker.Connections;
using static IoTHub.Web.Transports.Sockets.LinuxSocketNative;

namespace IoTHub.Web.Transports.Sockets;

/// <summary>
/// Linux: one epoll instance and one thread that tell every connection's input when its socket has become readable
/// (issue 19). An input arms its socket only when a reader waits and a receive found nothing, for one event
/// (EPOLLONESHOT, level-triggered, so data that came in between is reported at once); the event queues the input to the
/// thread pool (with one CPU, see below), where it receives and hands the data to its reader. A waiting socket thus costs a slot here and an entry
/// in the kernel's epoll set, and no .NET asynchronous operation.
/// </summary>
/// <remarks>
/// <para>
/// With one CPU (<see cref="Environment.ProcessorCount"/>, as in a container limited to one) the thread pool adds no
/// parallelism, only a hand-off per read: a wake-up and a switch between threads that share the core. There the input
/// receives on this thread and its reader handles the packets here (<see cref="Inline"/>), as a single-threaded broker does;
/// the reader's turns (a reader that finds more waiting yields to the thread pool) keep one busy connection from holding
/// the others, and a password hashed at CONNECT leaves this thread (<see cref="SharedReadThread"/>). Measured in
/// docs/benchmarks.md (issue 19, milestone 5).
/// </para>
/// <para>
/// An event's data is a token, the input's slot in <see cref="_slots"/> and the slot's generation: a slot is given back
/// when its input is done and its generation moves on, so an event still on its way for a socket closed since (or for a
/// descriptor that now belongs to another socket) finds no input and is dropped. Closing a socket takes it out of the
/// epoll set without an event: whoever closes it wakes the input (<see cref="SocketInput.Wake"/>).
/// </para>
/// </remarks>
internal sealed class ReadinessPoll
{
    private const int Batch = 256;

    private readonly int _epoll;
    private readonly Lock _gate = new();
    private Slot[] _slots = new Slot[64];
    private int _used;
    private int _firstFree = -1;

    private ReadinessPoll(int epoll)
    {
        _epoll = epoll;
        new Thread(Run) { IsBackground = true, Name = "IoTHub socket readiness" }.Start();
    }

    /// <summary>True when readable sockets are received from and read on the poller's thread (one CPU).</summary>
    public static bool Inline { get; } = Environment.ProcessorCount == 1;

    /// <summary>The poller, or null when epoll cannot be had (the sockets then wait with .NET's operations).</summary>
    public static ReadinessPoll? TryStart()
    {
        var epoll = epoll_create1(EpollCloseOnExec);
        return epoll < 0 ? null : new ReadinessPoll(epoll);
    }

    /// <summary>A slot for <paramref name="input"/> (a connection's input or a listener): the token its events carry, never 0.</summary>
    public ulong Register(IReadinessTarget input)
    {
        lock (_gate)
        {
            int index;
            if (_firstFree >= 0)
            {
                index = _firstFree;
                _firstFree = _slots[index].NextFree;
            }
            else
            {
                if (_used == _slots.Length)
                {
                    Array.Resize(ref _slots, _slots.Length * 2);
                }

                index = _used++;
                _slots[index].Generation = 1;
            }

            _slots[index].Input = input;
            return Token(index, _slots[index].Generation);
        }
    }

    /// <summary>Gives the slot of <paramref name="token"/> back: events still carrying it are dropped.</summary>
    public void Free(ulong token)
    {
        lock (_gate)
        {
            var index = (int)(uint)token;
            if (Holder(token) is null)
            {
                return;
            }

            ref var slot = ref _slots[index];
            slot.Input = null;
            slot.Generation = slot.Generation == uint.MaxValue ? 1 : slot.Generation + 1;
            slot.NextFree = _firstFree;
            _firstFree = index;
        }
    }

    /// <summary>The input that holds <paramref name="token"/>'s slot now, or null when the slot was given back since.</summary>
    internal IReadinessTarget? Find(ulong token)
    {
        lock (_gate)
        {
            return Holder(token);
        }
    }

    /// <summary>
    /// Asks for one event when <paramref name="socket"/> is readable (or failed, or ended), carrying
    /// <paramref name="token"/>; the first time (<paramref name="added"/> false) adds the socket to the set. Throws
    /// <see cref="ObjectDisposedException"/> when the socket is closed already.
    /// </summary>
    public SocketError Arm(SafeHandle socket, ulong token, ref bool added)
    {
        Span<byte> description = stackalloc byte[16];
        description.Clear();
        MemoryMarshal.Write(description, EpollIn | EpollOneShot);
        MemoryMarshal.Write(description[EventDataOffset..], in token);
        var operation = added ? EpollModify : EpollAdd;
        while (true)
        {
            if (epoll_ctl(_epoll, operation, socket, ref description[0]) == 0)
            {
                added = true;
                return SocketError.Success;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Interrupted)
            {
                continue;
            }

            // Added already, or not any more: the other operation does it.
            if ((errno == Exists && operation == EpollAdd) || (errno == NoEntry && operation == EpollModify))
            {
                operation = operation == EpollAdd ? EpollModify : EpollAdd;
                continue;
            }

            return ToSocketError(errno) is var error && error == SocketError.WouldBlock ? SocketError.SocketError : error;
        }
    }

    /// <summary>Under the lock: the input in the token's slot if the slot is still of the token's generation.</summary>
    private IReadinessTarget? Holder(ulong token)
    {
        var index = (int)(uint)token;
        return index < _used && _slots[index].Generation == (uint)(token >> 32) ? _slots[index].Input : null;
    }

    private static ulong Token(int index, uint generation) => ((ulong)generation << 32) | (uint)index;

    private void Run()
    {
        if (Inline)
        {
            SharedReadThread.MarkCurrent();
        }

        var events = new byte[Batch * EventSize];
        while (true)
        {
            var count = epoll_wait(_epoll, events, Batch, -1);
            if (count < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Interrupted)
                {
                    continue;
                }

                // Only a broken epoll descriptor gets here: no socket would ever be read again.
                throw new SocketException((int)ToSocketError(errno));
            }

            for (var i = 0; i < count; i++)
            {
                var token = MemoryMarshal.Read<ulong>(events.AsSpan(i * EventSize + EventDataOffset, sizeof(ulong)));
                Find(token)?.Readable(Inline);
            }
        }
    }

    private struct Slot
    {
        public IReadinessTarget? Input;
        public uint Generation;
        public int NextFree;
    }
}

/// <summary>What waits in <see cref="ReadinessPoll"/>: a connection's input, or a listener waiting for connections.</summary>
internal interface IReadinessTarget
{
    /// <summary>The poller's event: the socket is readable, failed or ended (see <see cref="SocketInput.Readable"/>).</summary>
    void Readable(bool inline);
}
