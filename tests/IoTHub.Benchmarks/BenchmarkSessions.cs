using IoTHub.Broker.Sessions;

namespace IoTHub.Benchmarks;

/// <summary>
/// Sessions for subscription-tree benchmarks. <see cref="Session"/>'s constructor is internal to the
/// engine and the benchmarks must not change src/ (no InternalsVisibleTo), so it is called through
/// reflection, once per session, in setup only.
/// </summary>
internal static class BenchmarkSessions
{
    public static Session Create(string clientId) =>
        (Session)Activator.CreateInstance(typeof(Session), System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic, null, [clientId], null)!;
}
