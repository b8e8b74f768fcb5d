using System.DirectoryServices.Protocols;
using System.Runtime.InteropServices;

namespace IoTHub.Web.Security.Ldap;

/// <summary>
/// New LDAP connections whose every call waits for the server at most a given time. On Linux, .NET's LdapConnection
/// applies its <see cref="LdapConnection.Timeout"/> to requests but not to binds, StartTLS or the TCP connect, which wait in
/// libldap without end: a server that stops answering would hold a worker for good, and a connection left half-open would
/// never be closed. So libldap's own LDAP_OPT_TIMEOUT (its synchronous calls) and LDAP_OPT_NETWORK_TIMEOUT (the connect)
/// are set as its defaults, which a connection copies when it is made, under a lock, right before it is made.
/// </summary>
internal static class LibLdap
{
    private const int TimeoutOption = 0x5002;
    private const int NetworkTimeoutOption = 0x5005;

    private static readonly Lock Gate = new();

    /// <summary>
    /// libldap's ldap_set_option, from the library .NET loads (the same names, in the same order, then OpenLDAP 2.6's own
    /// soname); null elsewhere than Linux.
    /// </summary>
    private static readonly SetOption? Set = Load();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int SetOption(IntPtr ld, int option, ref Timeval value);

    public static LdapConnection Connect(LdapDirectoryIdentifier server, TimeSpan timeout)
    {
        lock (Gate)
        {
            if (Set is not null)
            {
                var limit = new Timeval { Seconds = (nint)timeout.TotalSeconds, Microseconds = timeout.Microseconds + (1000 * timeout.Milliseconds) };
                _ = Set(IntPtr.Zero, TimeoutOption, ref limit);
                _ = Set(IntPtr.Zero, NetworkTimeoutOption, ref limit);
            }

            return new LdapConnection(server, null, AuthType.Basic) { Timeout = timeout };
        }
    }

    private static SetOption? Load()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        foreach (var name in (string[])["libldap-2.5.so.0", "libldap-2.6.so.0", "libldap-2.4.so.2", "libldap.so.2"])
        {
            if (NativeLibrary.TryLoad(name, out var library) && NativeLibrary.TryGetExport(library, "ldap_set_option", out var function))
            {
                return Marshal.GetDelegateForFunctionPointer<SetOption>(function);
            }
        }

        return null;
    }

    /// <summary>C's struct timeval: two longs (pointer-sized on Linux).</summary>
    private struct Timeval
    {
        public nint Seconds;
        public nint Microseconds;
    }
}
