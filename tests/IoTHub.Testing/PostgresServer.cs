using System.Diagnostics;
using System.Globalization;
using Npgsql;

using Xunit;

namespace IoTHub.Testing;

/// <summary>
/// A real PostgreSQL server for the tests, from Debian's `postgresql` binaries (test.sh installs
/// them): a cluster in a temp folder owned by `postgres`, listening on 127.0.0.1 at a free port
/// and on a Unix socket in that folder. Stopped and deleted on dispose, also when tests failed, and
/// at process exit if the run is cut short.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private string? _folder;
    private string? _binaries;
    private bool _running;

    public int Port { get; private set; }

    private string DataFolder => Path.Combine(_folder!, "data");

    public async Task InitializeAsync()
    {
        _binaries = FindBinaries();
        _folder = Directory.CreateTempSubdirectory("iothub-pg-").FullName;
        await RunAsync("chown", "postgres:postgres", _folder);
        await RunAsync("runuser", "-u", "postgres", "--", Path.Combine(_binaries, "initdb"),
            "-D", DataFolder, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync");
        Port = FreePort.Next();
        AppDomain.CurrentDomain.ProcessExit += StopAtExit;
        await StartAsync();
    }

    /// <summary>Starts the server again after <see cref="StopAsync"/>, on the same port; returns once it accepts connections.</summary>
    public async Task StartAsync()
    {
        var options = string.Create(CultureInfo.InvariantCulture, $"-k {_folder} -h 127.0.0.1 -p {Port}");
        _running = true;
        await RunAsync("runuser", "-u", "postgres", "--", Path.Combine(_binaries!, "pg_ctl"),
            "-D", DataFolder, "-l", Path.Combine(_folder!, "server.log"), "-w", "-t", "60", "-o", options, "start");
    }

    /// <summary>Stops the server as an operator does (`pg_ctl stop -m fast`): open connections are ended, new ones refused.</summary>
    public async Task StopAsync()
    {
        await RunAsync("runuser", "-u", "postgres", "--", Path.Combine(_binaries!, "pg_ctl"), "-D", DataFolder, "-m", "fast", "-w", "stop");
        _running = false;
    }

    public async Task DisposeAsync()
    {
        if (_running)
        {
            await StopAsync();
        }

        AppDomain.CurrentDomain.ProcessExit -= StopAtExit;
        if (_folder is not null)
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    /// <summary>
    /// Restarts the server as an operator does (`pg_ctl restart -m fast`): open connections are ended,
    /// transactions in progress rolled back. Returns once it accepts connections again.
    /// </summary>
    public Task RestartAsync() =>
        RunAsync("runuser", "-u", "postgres", "--", Path.Combine(_binaries!, "pg_ctl"), "-D", DataFolder, "-l", Path.Combine(_folder!, "server.log"),
            "-m", "fast", "-w", "-t", "60", "restart");

    /// <summary>A connection string for a new, empty database of its own.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        return ConnectionString(await TestDatabases.CreateAsync(new NpgsqlConnection(ConnectionString("postgres"))));
    }

    private string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = "postgres",
            Database = database,
            // A store holds one connection for its life; no pool keeps closed ones open.
            Pooling = false,
        }.ToString();

    private static string FindBinaries()
    {
        const string Root = "/usr/lib/postgresql";
        var version = Directory.Exists(Root)
            ? Directory.GetDirectories(Root).Where(d => File.Exists(Path.Combine(d, "bin", "initdb"))).OrderBy(d => d.Length).ThenBy(d => d, StringComparer.Ordinal).LastOrDefault()
            : null;
        return version is not null
            ? Path.Combine(version, "bin")
            : throw new InvalidOperationException("PostgreSQL is not installed: apt-get install -y postgresql (./test.sh does this).");
    }

    private static async Task RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish within {CommandTimeout}.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await output}{await error}");
        }
    }

    private void StopAtExit(object? sender, EventArgs e)
    {
        if (_running)
        {
            using var stop = Process.Start("runuser", ["-u", "postgres", "--", Path.Combine(_binaries!, "pg_ctl"), "-D", DataFolder, "-m", "immediate", "stop"]);
            stop.WaitForExit(TimeSpan.FromSeconds(10));
        }
    }
}
