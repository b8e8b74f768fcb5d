using System.Runtime.InteropServices;

namespace IoTHub.Broker.Storage;

/// <summary>
/// fsync of a folder: makes a file created or renamed in it durable (POSIX keeps the name in the
/// folder, not in the file, so fsync of the file alone does not). .NET has no API for it.
/// </summary>
internal static class DirectorySync
{
    public static void Flush(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return; // NTFS journals renames; a folder cannot be opened for flushing there.
        }

        var descriptor = NativeMethods.open(directory, 0 /* O_RDONLY */);
        if (descriptor < 0)
        {
            throw new IOException($"Cannot open '{directory}' to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (NativeMethods.fsync(descriptor) != 0)
            {
                throw new IOException($"Cannot flush '{directory}' to disk (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = NativeMethods.close(descriptor);
        }
    }

    private static class NativeMethods
    {
#pragma warning disable SYSLIB1054, CA5392 // LibraryImport needs unsafe code in this project; libc is resolved by name on every Unix.
        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int fsync(int descriptor);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int descriptor);
#pragma warning restore SYSLIB1054, CA5392
    }
}
