using System.Globalization;
using MySqlConnector;
using Xunit;

namespace IoTHub.Testing;

/// <summary>
/// A real MariaDB server for the tests, from Debian's `mariadb-server` binaries (test.sh installs them): a data folder in
/// a temp folder owned by `mysql`, a generated my.cnf, listening on 127.0.0.1 at a free port. Its grant tables are
/// skipped (any user name and password connect, as PostgresServer trusts loopback). Stopped and deleted on dispose, also
/// when tests failed, and killed at process exit if the run is cut short.
/// </summary>
public sealed class MariaDbServer : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private string? _folder;
    private ChildProcess? _server;

    public int Port { get; private set; }

    private string Config => Path.Combine(_folder!, "my.cnf");

    public async Task InitializeAsync()
    {
        if (!File.Exists("/usr/sbin/mariadbd"))
        {
            throw new InvalidOperationException("MariaDB is not installed: apt-get install -y mariadb-server (./test.sh does this).");
        }

        _folder = Directory.CreateTempSubdirectory("iothub-mariadb-").FullName;
        Port = FreePort.Next();
        await File.WriteAllTextAsync(Config, string.Create(CultureInfo.InvariantCulture, $"""
            [mysqld]
            user = mysql
            datadir = {_folder}/data
            socket = {_folder}/mariadbd.sock
            pid-file = {_folder}/mariadbd.pid
            log-error = {_folder}/error.log
            bind-address = 127.0.0.1
            port = {Port}
            skip-grant-tables
            skip-name-resolve
            skip-log-bin
            innodb-buffer-pool-size = 16M
            innodb-log-file-size = 8M
            """));
        await RunAsync("chown", "-R", "mysql:mysql", _folder);
        await RunAsync("mariadb-install-db", $"--defaults-file={Config}", "--skip-test-db", "--auth-root-authentication-method=normal");
        AppDomain.CurrentDomain.ProcessExit += StopAtExit;
        await StartAsync();
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        AppDomain.CurrentDomain.ProcessExit -= StopAtExit;
        if (_folder is not null)
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    /// <summary>Starts the server (again, after <see cref="StopAsync"/>) on the same port; returns once it accepts connections.</summary>
    public async Task StartAsync()
    {
        _server = ChildProcess.Start("/usr/sbin/mariadbd", [$"--defaults-file={Config}"]);
        await Poll.UntilAsync(async () =>
        {
            if (_server.HasExited)
            {
                throw new InvalidOperationException($"mariadbd exited at start: {await File.ReadAllTextAsync(Path.Combine(_folder!, "error.log"))}");
            }

            try
            {
                await using var connection = new MySqlConnection(ConnectionString(null));
                await connection.OpenAsync();
                return true;
            }
            catch (MySqlException)
            {
                return false;
            }
        }, StartTimeout, "mariadbd did not accept connections in time");
    }

    /// <summary>Stops the server as an operator does (`mariadb-admin shutdown`): open connections are ended, new ones refused.</summary>
    public async Task StopAsync()
    {
        if (_server is { HasExited: false } server)
        {
            await RunAsync("mariadb-admin", "--no-defaults", $"--socket={_folder}/mariadbd.sock", "--user=root", "shutdown");
            await server.WaitForExitAsync(StartTimeout);
        }

        _server?.Dispose();
        _server = null;
    }

    /// <summary>A connection string for a new, empty database of its own (not pooled: none outlives a stop).</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        return ConnectionString(await TestDatabases.CreateAsync(new MySqlConnection(ConnectionString(null))));
    }

    private string ConnectionString(string? database) =>
        new MySqlConnectionStringBuilder
        {
            Server = "127.0.0.1",
            Port = (uint)Port,
            UserID = "root",
            Database = database ?? string.Empty,
            Pooling = false,
        }.ConnectionString;

    private static async Task RunAsync(string file, params string[] arguments)
    {
        using var process = ChildProcess.Start(file, arguments);
        if (await process.WaitForExitAsync(StartTimeout) != 0)
        {
            throw new InvalidOperationException($"{file} failed: {process.Describe()}");
        }
    }

    private void StopAtExit(object? sender, EventArgs e) => _server?.Dispose();
}
