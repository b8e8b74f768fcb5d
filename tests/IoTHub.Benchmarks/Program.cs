using BenchmarkDotNet.Running;

namespace IoTHub.Benchmarks;

/// <summary>Runs the benchmarks picked by the command line, e.g. <c>--filter '*'</c> (see README.md).</summary>
internal static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
