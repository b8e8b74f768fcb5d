using IoTHub.Broker.Security.Backends;
using IoTHub.Testing;
using IoTHub.Web.Configuration;
using Microsoft.Extensions.Configuration;

namespace IoTHub.Web.Tests.Security;

/// <summary>
/// The "Security" section (issue 15): its keys, every bad one reported, and the secure default checked with the real
/// host process: an MQTT listener beyond loopback without an authenticator stops the host unless anonymous clients are
/// allowed explicitly, which is then warned about at every start.
/// </summary>
public sealed class SecuritySettingsTests : IDisposable
{
    private readonly TempDirectory _workingDirectory = new();

    [Fact]
    public void The_authenticators_are_read_in_order_and_PasswordFile_stands_for_one()
    {
        var listed = Read(new()
        {
            ["Security:Authenticators:0:Type"] = "PasswordFile",
            ["Security:Authenticators:0:Path"] = "first",
            ["Security:Authenticators:1:Type"] = "passwordfile",
            ["Security:Authenticators:1:Path"] = "second",
            ["Security:AllowAnonymous"] = "false",
            ["Security:CacheDuration"] = "00:00:05",
            ["Security:PasswordHashIterations"] = "210000",
        }, out var errors);

        Assert.Empty(errors);
        Assert.Equal(["first", "second"], listed.Authenticators.Select(static a => a.Path));
        Assert.False(listed.AllowAnonymous);
        Assert.Equal(TimeSpan.FromSeconds(5), listed.CacheDuration);
        Assert.Equal(210_000, listed.PasswordHashIterations);

        var mixed = Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Database",
            ["Security:Authenticators:1:Type"] = "PasswordFile",
            ["Security:Authenticators:1:Path"] = "file",
        }, out errors);
        Assert.Empty(errors);
        Assert.Equal([AuthenticatorType.Database, AuthenticatorType.PasswordFile], mixed.Authenticators.Select(static a => a.Type));

        var shortcut = Read(new() { ["Security:PasswordFile"] = "/etc/mosquitto/passwd" }, out errors);
        Assert.Empty(errors);
        Assert.Equal((AuthenticatorType.PasswordFile, "/etc/mosquitto/passwd"), (shortcut.Authenticators.Single().Type, shortcut.Authenticators.Single().Path));
        Assert.Null(shortcut.AllowAnonymous); // not set: decided from the authenticators and listeners
        Assert.Equal(TimeSpan.FromSeconds(60), shortcut.CacheDuration);
        Assert.Equal(10_000, shortcut.PasswordHashIterations); // NIST SP 800-63B's minimum (docs/security.md#database-users)
    }

    [Fact]
    public void Every_bad_key_is_reported()
    {
        Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Database",
            ["Security:Authenticators:0:Path"] = "x", // the database has no file
            ["Security:Authenticators:4:Type"] = "database",
            ["Security:Authenticators:1:Type"] = "Ldap",
            ["Security:Authenticators:2:Path"] = "no-type",
            ["Security:Authenticators:3:Type"] = "PasswordFile",
            ["Security:Authenticators:3:File"] = "typo",
            ["Security:PasswordFile"] = "also",
            ["Security:AllowAnonymous"] = "yes",
            ["Security:CacheDuration"] = "forever",
            ["Security:PasswordHashIterations"] = "999",
            ["Security:AllowAnonymus"] = "true",
        }, out var errors);

        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:0:Path is not a known setting", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:4:Type Database is listed more than once", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:1:Type 'Ldap' is not an available authenticator type (available: PasswordFile, Database, Webhook)", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:1:Path must be set", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:2:Type must be set", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:Authenticators:3:File is not a known setting", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:AllowAnonymous 'yes' is not true or false", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:CacheDuration 'forever'", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:PasswordHashIterations", StringComparison.Ordinal) && e.Contains("999", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:AllowAnonymus is not a known setting", StringComparison.Ordinal));
        Assert.Contains(errors, static e => e.StartsWith("Security:PasswordFile is a shortcut for one authenticator and cannot be combined", StringComparison.Ordinal));
    }

    [Fact]
    public void A_webhook_takes_a_url_a_timeout_and_a_failure_policy()
    {
        var read = Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Webhook",
            ["Security:Authenticators:0:Url"] = "https://auth.example.com/mqtt?token=t",
            ["Security:Authenticators:0:Timeout"] = "00:00:01.500",
            ["Security:Authenticators:0:FailurePolicy"] = "notmine",
            ["Security:Authenticators:1:Type"] = "webhook",
            ["Security:Authenticators:1:Url"] = "http://127.0.0.1:8081/auth",
        }, out var errors);

        Assert.Empty(errors);
        Assert.Equal([new("Security:Authenticators:0", AuthenticatorType.Webhook, string.Empty,
                new BackendOptions(TimeSpan.FromMilliseconds(1500), BackendFailurePolicy.NotMine), new Uri("https://auth.example.com/mqtt?token=t")),
            new AuthenticatorOptions("Security:Authenticators:1", AuthenticatorType.Webhook, string.Empty,
                new BackendOptions(TimeSpan.FromSeconds(5), BackendFailurePolicy.Deny), new Uri("http://127.0.0.1:8081/auth"))], read.Authenticators);
    }

    [Fact]
    public void Every_bad_webhook_key_is_reported()
    {
        Read(new()
        {
            ["Security:Authenticators:0:Type"] = "Webhook",
            ["Security:Authenticators:1:Type"] = "Webhook",
            ["Security:Authenticators:1:Url"] = "/relative",
            ["Security:Authenticators:1:Timeout"] = "00:00:00",
            ["Security:Authenticators:1:FailurePolicy"] = "Allow",
            ["Security:Authenticators:2:Type"] = "Webhook",
            ["Security:Authenticators:2:Url"] = "ftp://auth.example.com/",
            ["Security:Authenticators:2:Timeout"] = "-00:00:01",
            ["Security:Authenticators:2:Path"] = "file",
            ["Security:Authenticators:3:Type"] = "Webhook",
            ["Security:Authenticators:3:Url"] = "https://user:secret@auth.example.com/",
            ["Security:Authenticators:3:Header"] = "x",
            ["Security:Authenticators:4:Type"] = "PasswordFile",
            ["Security:Authenticators:4:Path"] = "file",
            ["Security:Authenticators:4:Timeout"] = "00:00:05",
        }, out var errors);

        Assert.Equal(
        [
            "Security:Authenticators:0:Url must be set.",
            "Security:Authenticators:1:Url '/relative' is not an absolute http:// or https:// URL without a user name or password.",
            "Security:Authenticators:1:Timeout '00:00:00' is not a positive duration such as 00:00:10 (hh:mm:ss) or 7.00:00:00 (days).",
            "Security:Authenticators:1:FailurePolicy 'Allow' is not one of Deny, NotMine.",
            "Security:Authenticators:2:Url 'ftp://auth.example.com/' is not an absolute http:// or https:// URL without a user name or password.",
            "Security:Authenticators:2:Timeout '-00:00:01' is not a positive duration such as 00:00:10 (hh:mm:ss) or 7.00:00:00 (days).",
            "Security:Authenticators:2:Path is not a known setting (known: Type, Url, Timeout, FailurePolicy).",
            "Security:Authenticators:3:Url 'https://user:secret@auth.example.com/' is not an absolute http:// or https:// URL without a user name or password.",
            "Security:Authenticators:3:Header is not a known setting (known: Type, Url, Timeout, FailurePolicy).",
            "Security:Authenticators:4:Timeout is not a known setting (known: Type, Path).",
        ], errors);
    }

    /// <summary>The connection waits Mqtt:AuthenticationTimeout for the whole chain: NotMine needs a backend timeout below it.</summary>
    [Fact]
    public async Task A_NotMine_backend_whose_timeout_is_not_below_the_authentication_timeout_stops_the_host()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Security:Authenticators:0:Type=Webhook", "--Security:Authenticators:0:Url=http://127.0.0.1:9/auth",
            "--Security:Authenticators:0:FailurePolicy=NotMine", "--Mqtt:AuthenticationTimeout=00:00:03", "--Security:Authenticators:0:Timeout=00:00:03");

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains("Security:Authenticators:0:Timeout (00:00:03) is not shorter than Mqtt:AuthenticationTimeout (00:00:03, broker 'default')",
            host.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDirectory), "nothing is created when the settings are bad");
    }

    [Theory]
    [InlineData("--Mqtt:Address=0.0.0.0")]
    [InlineData("--Mqtt:Listeners:lan:Url=tcp://0.0.0.0:0")]
    [InlineData("--Mqtt:Brokers:lab:Port=0", "--Mqtt:Brokers:lab:Address=::")]
    [InlineData("--Mqtt:Listeners:web:Url=ws://0.0.0.0:0/mqtt")]
    [InlineData("--Http:Address=0.0.0.0")] // the dashboard's port serves MQTT over WebSocket at Http:MqttPath
    public async Task A_listener_beyond_loopback_without_an_authenticator_stops_the_host_and_says_how_to_add_users(params string[] listener)
    {
        using var host = HostProcess.Start(_workingDirectory.Path, ["--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory, .. listener]);

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains("IoTHub cannot start:", host.Output, StringComparison.Ordinal);
        Assert.Contains("MQTT listeners are open beyond loopback", host.Output, StringComparison.Ordinal);
        Assert.Contains("mosquitto_passwd -c <file> <user>", host.Output, StringComparison.Ordinal);
        Assert.Contains("--Security:PasswordFile=<file>", host.Output, StringComparison.Ordinal);
        Assert.Contains("--Security:AllowAnonymous=true", host.Output, StringComparison.Ordinal);
        Assert.Contains("--Security:Authenticators:0:Type=Database", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", host.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDirectory), "nothing is created when the settings are bad");
    }

    /// <summary>
    /// A network listener that says itself whether anonymous clients may connect is not left open by accident: the host
    /// starts without users (here none may connect there), and a Unix socket counts as local like loopback.
    /// </summary>
    [Fact]
    public async Task A_listener_beyond_loopback_with_its_own_AllowAnonymous_and_a_unix_socket_start_without_users()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Mqtt:Listeners:lan:Url=tcp://0.0.0.0:0", "--Mqtt:Listeners:lan:AllowAnonymous=false",
            $"--Mqtt:Listeners:local:Url=unix://{_workingDirectory.Path}/iothub.sock");

        await host.WaitForMqttEndpointAsync();
        host.Terminate();
        Assert.Equal(0, await host.WaitForExitAsync());
    }

    // Issue 24: a misspelt section (here the security one) stops the start like a misspelt key, instead of starting a
    // broker without the setting; a plain unknown value on the command line too.
    [Fact]
    public async Task An_unknown_section_stops_the_host()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Securty:PasswordFile=passwords", "--Sekurity=on");

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains("Securty is not a known section (known: Http, Mqtt, Storage, Admin, Security); check its spelling.", host.Output,
            StringComparison.Ordinal);
        Assert.Contains("Sekurity is not a known section", host.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDirectory), "nothing is created when the settings are bad");
    }

    [Fact]
    public async Task A_missing_password_file_stops_the_host()
    {
        var missing = Path.Combine(_workingDirectory.Path, "missing-passwords");
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Security:PasswordFile=missing-passwords"); // relative: taken from the content root (the working directory)

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains($"Security:PasswordFile '{missing}' does not exist. Create it with `mosquitto_passwd -c {missing} <user>`.", host.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Security:AccessAudit:MaxAge=7 days", "Security:AccessAudit:MaxAge '7 days' is not a positive duration")]
    [InlineData("--Security:AccessAudit:MaxAge=3651.00:00:00", "Security:AccessAudit:MaxAge '3651.00:00:00' is not a positive duration of at most 3650 days")]
    [InlineData("--Security:AccessAudit:MaxEntries=0", "Security:AccessAudit:MaxEntries '0'")]
    public async Task A_bad_access_audit_retention_stops_the_host_naming_the_key(string setting, string message)
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory, setting);

        Assert.Equal(1, await host.WaitForExitAsync());
        Assert.Contains(message, host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AllowAnonymous_set_explicitly_opens_a_network_listener_with_a_warning()
    {
        using var host = HostProcess.Start(_workingDirectory.Path, "--http-port", "0", "--mqtt-port", "0", "--data-dir", DataDirectory,
            "--Mqtt:Address=0.0.0.0", "--Security:AllowAnonymous=true");

        var warning = await host.WaitForLineAsync("Security:AllowAnonymous is true while MQTT listeners are open beyond loopback");
        Assert.Contains("broker 'default', listener 'default' (0.0.0.0:0)", warning, StringComparison.Ordinal);
        var endpoint = await host.WaitForMqttEndpointAsync();
        using (var client = ChildProcess.Start("mosquitto_pub", ["-h", "127.0.0.1", "-p", endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "t", "-m", "anonymous"]))
        {
            await client.WaitForSuccessAsync();
        }

        host.Terminate();
        Assert.Equal(0, await host.WaitForExitAsync());
    }

    public void Dispose() => _workingDirectory.Dispose();

    private string DataDirectory => Path.Combine(_workingDirectory.Path, "data");

    internal static SecurityOptions Read(Dictionary<string, string?> values, out IReadOnlyList<string> errors)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var reader = new SectionReader(configuration.GetSection(SecurityOptions.SectionName));
        var options = new SecurityOptions();
        options.Read(reader);
        reader.RejectUnknownKeys();
        errors = reader.Errors;
        return options;
    }
}
