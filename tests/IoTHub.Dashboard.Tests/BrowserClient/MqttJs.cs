using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using IoTHub.Testing;

namespace IoTHub.Dashboard.Tests.BrowserClient;

/// <summary>
/// mqtt.js, the browser build of npm's "mqtt" package, at one pinned version whose tarball must match the integrity hash
/// the npm registry publishes for it. It is fetched with npm when the tests run (npm's own cache answers after the first
/// time, --prefer-offline) rather than kept in git: a 340 KB minified build of someone else's code, which a review cannot
/// read and which a pinned version and hash describe exactly.
/// </summary>
internal static class MqttJs
{
    public const string Version = "5.16.0";

    /// <summary>dist.integrity of mqtt@5.16.0 in the npm registry (npm view mqtt@5.16.0 dist.integrity).</summary>
    private const string Integrity = "sha512-G0VsEtuJz5sJUgZJaaADMVfW7SIFPzkIuHR+d6rk+tBeSwdCfd9BaIRycRfd2AbyFDEmLlFM+SDQeti/+IbOnw==";

    private const string Bundle = "package/dist/mqtt.min.js";

    /// <summary>Writes the package's dist/mqtt.min.js (UMD: it defines window.mqtt) to <paramref name="destination"/>.</summary>
    public static async Task WriteBundleAsync(string destination)
    {
        var folder = Directory.CreateTempSubdirectory("iothub-mqttjs-").FullName;
        try
        {
            using (var pack = ChildProcess.Start("npm", ["pack", $"mqtt@{Version}", "--prefer-offline", "--pack-destination", folder]))
            {
                await pack.WaitForSuccessAsync(TimeSpan.FromSeconds(50));
            }

            var tarball = await File.ReadAllBytesAsync(Path.Combine(folder, $"mqtt-{Version}.tgz"));
            var integrity = "sha512-" + Convert.ToBase64String(SHA512.HashData(tarball));
            Assert.True(integrity == Integrity, $"mqtt@{Version} from npm has the integrity {integrity}, not {Integrity}");

            await using var gzip = new GZipStream(new MemoryStream(tarball), CompressionMode.Decompress);
            await using var tar = new TarReader(gzip);
            while (await tar.GetNextEntryAsync() is { } entry)
            {
                if (entry.Name == Bundle)
                {
                    await entry.ExtractToFileAsync(destination, overwrite: true);
                    return;
                }
            }

            Assert.Fail($"mqtt@{Version} holds no {Bundle}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
