using System.Net.Security;
using System.Reflection;
using System.Runtime.InteropServices;

namespace IoTHub.Web.Transports.Tls;

/// <summary>
/// Lets OpenSSL give an idle TLS connection's record buffers back (issue 19). OpenSSL keeps a read and a write buffer of
/// about 17 KB each for the whole life of a connection unless the connection's mode has <c>SSL_MODE_RELEASE_BUFFERS</c>,
/// with which it frees them whenever they are empty and takes new ones for the next record. .NET's <see cref="SslStream"/>
/// does not set that mode and has no option for it; Mosquitto sets it. Once Kestrel's handshake is done, this sets it on
/// the connection's OpenSSL object: measured with heaptrack on 1 100 idle connections, 34 KB less native memory live per
/// connection (about 47 → 13 KB), the rest being OpenSSL's connection state.
/// </summary>
/// <remarks>
/// The OpenSSL object is the handle <see cref="SslStream"/> keeps in its private field <c>_securityContext</c> (a
/// <c>SafeSslHandle</c> on Linux), found by reflection once; the mode is set with <c>SSL_ctrl</c> of the libssl the
/// process has loaded already (found in /proc/self/maps, so it is the library .NET uses, whatever its version). Where
/// any of this is not so (another system or TLS library, a .NET whose field differs) nothing is done, and the first TLS
/// connection logs that once. One instance per host, counting the connections it was set on.
/// </remarks>
internal sealed partial class TlsIdleBuffers(ILogger<TlsIdleBuffers> logger)
{
    /// <summary><c>SSL_MODE_RELEASE_BUFFERS</c>.</summary>
    public const long ReleaseBuffersMode = 0x10;

    private static readonly Lazy<OpenSslMode?> Mode = new(OpenSslMode.Find);

    private long _released;
    private int _reported;

    /// <summary>TLS connections whose buffers OpenSSL now releases when idle, since the host started.</summary>
    public long Released => Volatile.Read(ref _released);

    /// <summary>
    /// Sets the mode on <paramref name="stream"/>'s connection, right after its handshake and before anything else reads
    /// or writes it: buffers taken for the handshake go back with the connection's next read and write.
    /// </summary>
    public void Release(SslStream stream)
    {
        if (Mode.Value?.Add(stream, ReleaseBuffersMode) is { } mode && (mode & ReleaseBuffersMode) != 0)
        {
            Interlocked.Increment(ref _released);
        }
        else if (Interlocked.Exchange(ref _reported, 1) == 0)
        {
            NotReleased(logger);
        }
    }

    /// <summary>The OpenSSL mode of <paramref name="stream"/>'s connection, or null where it cannot be read.</summary>
    public static long? ModeOf(SslStream stream) => Mode.Value?.Add(stream, 0);

    /// <summary>The private field holding the OpenSSL object, and <c>SSL_ctrl</c>.</summary>
    private sealed class OpenSslMode(FieldInfo context, OpenSslMode.Control control)
    {
        private const int ControlMode = 33; // SSL_CTRL_MODE: ORs the argument into the mode, returns the new mode
        private const string HandleType = "Microsoft.Win32.SafeHandles.SafeSslHandle";

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate nint Control(nint ssl, int command, nint argument, nint pointer);

        public static OpenSslMode? Find()
        {
            if (!OperatingSystem.IsLinux()
                || typeof(SslStream).GetField("_securityContext", BindingFlags.NonPublic | BindingFlags.Instance) is not { } field
                || LoadedLibrary() is not { } path
                || !NativeLibrary.TryLoad(path, out var library)
                || !NativeLibrary.TryGetExport(library, "SSL_ctrl", out var export))
            {
                return null;
            }

            return new OpenSslMode(field, Marshal.GetDelegateForFunctionPointer<Control>(export));
        }

        /// <summary>ORs <paramref name="mode"/> into the connection's mode and returns the mode; null without an OpenSSL object.</summary>
        public long? Add(SslStream stream, long mode)
        {
            if (context.GetValue(stream) is not SafeHandle { IsInvalid: false } handle || handle.GetType().FullName != HandleType)
            {
                return null;
            }

            var added = false;
            try
            {
                // Held for the call: a connection aborted meanwhile cannot free the object under it.
                handle.DangerousAddRef(ref added);
                return control(handle.DangerousGetHandle(), ControlMode, (nint)mode, 0);
            }
            catch (ObjectDisposedException)
            {
                return null;
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
        }

        /// <summary>The one libssl mapped into the process (by the first handshake), or null for none or several.</summary>
        private static string? LoadedLibrary()
        {
            var paths = File.ReadLines("/proc/self/maps")
                .Select(static line => line.IndexOf('/') is var start and >= 0 ? line[start..] : "")
                .Where(static path => Path.GetFileName(path).StartsWith("libssl.so", StringComparison.Ordinal))
                .Distinct()
                .ToList();
            return paths.Count == 1 ? paths[0] : null;
        }
    }

    [LoggerMessage(EventId = 1304, Level = LogLevel.Information,
        Message = "TLS: OpenSSL's record buffers cannot be released between reads here (not OpenSSL, or a .NET this was not made for); an idle TLS connection keeps about 34 KB more")]
    private static partial void NotReleased(ILogger logger);
}
