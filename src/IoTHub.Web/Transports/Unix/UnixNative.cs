using System.Globalization;
using System.Runtime.InteropServices;

namespace IoTHub.Web.Transports.Unix;

/// <summary>
/// The few libc calls .NET does not offer for a socket file: its type and inode (statx, whose layout is the same on
/// every Linux architecture), a change of owner (chown), and user and group names (getpwnam, getgrnam).
/// </summary>
internal static partial class UnixNative
{
    private const int AtCurrentDirectory = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxInode = 0x100;
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;
    private const int StatxInodeOffset = 32;
    private const int FileTypeMask = 0xF000;
    private const int SocketType = 0xC000;

    /// <summary>Whether the path is a socket, and its inode; null when it does not exist or cannot be looked at.</summary>
    public static (bool IsSocket, ulong Inode)? Stat(string path)
    {
        var buffer = new byte[StatxSize];
        if (statx(AtCurrentDirectory, path, AtSymlinkNoFollow, StatxType | StatxInode, buffer) != 0)
        {
            return null;
        }

        var mode = BitConverter.ToUInt16(buffer, StatxModeOffset);
        return ((mode & FileTypeMask) == SocketType, BitConverter.ToUInt64(buffer, StatxInodeOffset));
    }

    /// <summary>Gives the file to <paramref name="owner"/> and <paramref name="group"/> (-1 leaves either); the error text when it cannot.</summary>
    public static string? ChangeOwner(string path, int owner, int group) =>
        chown(path, owner, group) == 0 ? null : Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());

    /// <summary>A user id, written as a number or a name of this system.</summary>
    public static bool TryFindUser(string raw, out int id) => TryFind(raw, getpwnam, out id);

    /// <summary>A group id, written as a number or a name of this system.</summary>
    public static bool TryFindGroup(string raw, out int id) => TryFind(raw, getgrnam, out id);

    /// <summary>
    /// A number, or a name whose record (struct passwd or struct group) holds its id after two pointers: the name and the
    /// password, on Linux and the BSDs alike.
    /// </summary>
    private static bool TryFind(string raw, Func<string, IntPtr> lookUp, out int id)
    {
        if (int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out id))
        {
            return true;
        }

        var record = raw.Length == 0 ? IntPtr.Zero : lookUp(raw);
        id = record == IntPtr.Zero ? -1 : Marshal.ReadInt32(record, 2 * IntPtr.Size);
        return record != IntPtr.Zero;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", SetLastError = true)]
    private static extern int chown([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int owner, int group);

    [DllImport("libc")]
    private static extern IntPtr getpwnam([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [DllImport("libc")]
    private static extern IntPtr getgrnam([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
