using IoTHub.Fuzz;
using SharpFuzz;

// dotnet IoTHub.Fuzz.dll decoder|connection      runs one harness under afl-fuzz (fuzz.sh starts it so; SharpFuzz out of process)
// dotnet IoTHub.Fuzz.dll seeds <corpus folder>   writes the seed corpus (valid packets) into corpus/decoder and corpus/connection
// dotnet IoTHub.Fuzz.dll replay <harness> <file> runs one input once, outside afl (for a finding: the exception is printed)
switch (args)
{
    case ["decoder"]:
        Fuzzer.OutOfProcess.Run(static stream => _ = DecoderHarness.Run(ReadAll(stream)));
        return 0;
    case ["connection"]:
        Fuzzer.OutOfProcess.Run(static stream => _ = ConnectionHarness.Run(ReadAll(stream)));
        return 0;
    case ["seeds", var folder]:
        SeedCorpus.Write(folder);
        return 0;
    case ["replay", "decoder", var file]:
        Console.WriteLine($"{DecoderHarness.Run(File.ReadAllBytes(file))} bytes left undecoded");
        return 0;
    case ["replay", "connection", var file]:
        Console.WriteLine(string.Join(Environment.NewLine, ConnectionHarness.Run(File.ReadAllBytes(file)).Select(static (sent, i) => $"connection {i + 1}: the broker sent {string.Join(' ', sent)}")));
        return 0;
    default:
        Console.Error.WriteLine("usage: IoTHub.Fuzz decoder | connection | seeds <folder> | replay decoder|connection <file>");
        return 2;
}

static byte[] ReadAll(Stream stream)
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    return copy.ToArray();
}
