using IoTHub.Web.Configuration.Mosquitto;

namespace IoTHub.Web.Tests.Mosquitto;

/// <summary>
/// A mosquitto.conf read into IoTHub's keys: the Debian package's own file, the examples of the mosquitto.conf(5) manual,
/// and the listener, security and limit directives, from real files in a temp folder.
/// </summary>
public sealed class MosquittoImportTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Debian's /etc/mosquitto/mosquitto.conf as installed (its include_dir holds only a README): persistence taken, the rest listed.</summary>
    [Fact]
    public void The_Debian_package_file_maps_persistence_and_the_local_only_default_listener()
    {
        const string File = "/etc/mosquitto/mosquitto.conf";

        var import = MosquittoImport.Read(File);

        Assert.Empty(import.Problems);
        Assert.Equal(new ImportedSetting("Sqlite", $"{File}:{LineOf(File, "persistence true")}"), import.Settings["Storage:Provider"]);
        Assert.Equal(new ImportedSetting("/var/lib/mosquitto/", $"{File}:{LineOf(File, "persistence_location")}"), import.Settings["Storage:DataDirectory"]);

        // Mosquitto 2.0 without a listener line: port 1883 on loopback, anonymous clients accepted there.
        Assert.Equal("127.0.0.1", import.Settings["Mqtt:Address"].Value);
        Assert.Equal("1883", import.Settings["Mqtt:Port"].Value);
        Assert.Equal("true", import.Settings["Security:AllowAnonymous"].Value);
        Assert.Equal(
            [("pid_file", LineOf(File, "pid_file")), ("log_dest", LineOf(File, "log_dest"))],
            import.NotTaken.Select(static d => (d.Directive, d.Line)));
        Assert.All(import.NotTaken, static d => Assert.Equal(File, d.File));
    }

    /// <summary>The manual's include_dir examples: a directory's files in case-folded order with upper case first, directories in the order written.</summary>
    [Fact]
    public void Include_dir_reads_files_in_Mosquittos_order()
    {
        var one = Folder("one.d");
        var two = Folder("two.d");
        foreach (var (folder, name) in new[] { (one, "b.conf"), (one, "A.conf"), (one, "01.conf"), (one, "a.conf"), (one, "B.conf"), (one, "00.conf"), (two, "D.conf"), (two, "C.conf") })
        {
            System.IO.File.WriteAllText(Path.Combine(folder, name), $"# {name}\nconnection_messages {name}\n");
        }

        System.IO.File.WriteAllText(Path.Combine(one, "ignored.txt"), "bogus\n");
        var main = Write("mosquitto.conf", $"include_dir {one}\ninclude_dir {two}\n");

        var import = MosquittoImport.Read(main);

        Assert.Empty(import.Problems);
        Assert.Equal(["00.conf", "01.conf", "A.conf", "a.conf", "B.conf", "b.conf", "C.conf", "D.conf"], import.NotTaken.Select(static d => Path.GetFileName(d.File)));
        Assert.All(import.NotTaken, static d => Assert.Equal(2, d.Line));
    }

    [Fact]
    public void An_included_files_include_dir_and_a_missing_directory_are_reported()
    {
        var folder = Folder("conf.d");
        System.IO.File.WriteAllText(Path.Combine(folder, "nested.conf"), $"include_dir {folder}\n");
        var main = Write("mosquitto.conf", $"include_dir {folder}\ninclude_dir {Path.Combine(_temp.Path, "missing")}\n");

        var import = MosquittoImport.Read(main);

        var nested = Assert.Single(import.NotTaken);
        Assert.Equal(("include_dir", 1), (nested.Directive, nested.Line));
        Assert.Contains("main file", nested.Reason, StringComparison.Ordinal);
        Assert.Equal($"{main}:2: include_dir '{Path.Combine(_temp.Path, "missing")}' is not a directory that can be read.", Assert.Single(import.Problems));
    }

    /// <summary>The manual's bridge example and other examples it gives: bridges are listed line by line, never with their values.</summary>
    [Fact]
    public void The_manuals_bridge_and_logging_examples_are_listed_as_not_taken()
    {
        var main = Write("mosquitto.conf", """
            log_timestamp_format %Y-%m-%dT%H:%M:%S
            persistent_client_expiration 14d
            connection test-mosquitto-org
            address test.mosquitto.org
            cleansession true
            topic clients/total in 0 test/mosquitto/org/ $SYS/broker/
            remote_password secret
            """);

        var import = MosquittoImport.Read(main);

        Assert.Empty(import.Problems);
        Assert.Equal(
            ["log_timestamp_format:1", "persistent_client_expiration:2", "connection:3", "address:4", "cleansession:5", "topic:6", "remote_password:7"],
            import.NotTaken.Select(static d => $"{d.Directive}:{d.Line}"));
        Assert.All(import.NotTaken.Skip(2), static d => Assert.Equal("bridges are not supported", d.Reason));
        Assert.DoesNotContain(import.NotTaken, static d => d.Reason.Contains("secret", StringComparison.Ordinal));
    }

    /// <summary>The package's commented example file (every directive with its default, commented out) sets nothing.</summary>
    [Fact]
    public void The_packages_commented_example_sets_nothing_but_the_defaults()
    {
        var import = MosquittoImport.Read("/usr/share/doc/mosquitto/examples/mosquitto.conf");

        Assert.Empty(import.Problems);
        Assert.Empty(import.NotTaken);
        Assert.Equal(["Mqtt:Port", "Mqtt:Address", "Security:AllowAnonymous"], import.Settings.Keys);
    }

    [Fact]
    public void Listeners_map_to_urls_with_their_tls_websocket_and_limit_keys()
    {
        var main = Write("mosquitto.conf", """
            per_listener_settings false
            listener 8883 127.0.0.1
            certfile /certs/server.pem
            keyfile /certs/server.key
            cafile /certs/ca.pem
            require_certificate true
            use_identity_as_username true
            tls_version tlsv1.3
            crlfile /certs/clients.crl
            max_connections 50

            listener 8080
            protocol websockets
            socket_domain ipv4

            listener 9001 ::1
            protocol websockets
            certfile /certs/server.pem
            keyfile /certs/server.key
            max_connections -1

            listener 0 /run/mosquitto/mqtt.sock
            password_file /etc/mosquitto/passwd
            acl_file /etc/mosquitto/acl
            allow_anonymous true
            """);

        var import = MosquittoImport.Read(main);

        Assert.Empty(import.Problems);
        Assert.Empty(import.NotTaken);
        Dictionary<string, string> expected = new()
        {
            ["Mqtt:Listeners:mosquitto-8883:Url"] = "tls://127.0.0.1:8883",
            ["Mqtt:Listeners:mosquitto-8883:Certificate"] = "/certs/server.pem",
            ["Mqtt:Listeners:mosquitto-8883:CertificateKey"] = "/certs/server.key",
            ["Mqtt:Listeners:mosquitto-8883:ClientCertificates"] = "Required",
            ["Mqtt:Listeners:mosquitto-8883:ClientCertificateAuthority"] = "/certs/ca.pem",
            ["Mqtt:Listeners:mosquitto-8883:CertificateIdentity"] = "CommonName",
            ["Mqtt:Listeners:mosquitto-8883:TlsProtocols"] = "Tls13",
            ["Mqtt:Listeners:mosquitto-8883:ClientCertificateRevocationList"] = "/certs/clients.crl",
            ["Mqtt:Listeners:mosquitto-8883:MaximumConnections"] = "50",
            ["Mqtt:Listeners:mosquitto-8080:Url"] = "ws://0.0.0.0:8080/mqtt",
            ["Mqtt:Listeners:mosquitto-9001:Url"] = "wss://[::1]:9001/mqtt",
            ["Mqtt:Listeners:mosquitto-9001:Certificate"] = "/certs/server.pem",
            ["Mqtt:Listeners:mosquitto-9001:CertificateKey"] = "/certs/server.key",
            ["Mqtt:Listeners:mosquitto-unix-4:Url"] = "unix:///run/mosquitto/mqtt.sock",
            ["Security:PasswordFile"] = "/etc/mosquitto/passwd",
            ["Security:AclFile"] = "/etc/mosquitto/acl",
            ["Security:AllowAnonymous"] = "true",

            // Listener lines without port or bind_address: Mosquitto starts no default listener; IoTHub's goes to a free loopback port.
            ["Mqtt:Address"] = "127.0.0.1",
            ["Mqtt:Port"] = "0",
        };
        Assert.Equal(expected.OrderBy(static e => e.Key), import.Settings.Select(static s => KeyValuePair.Create(s.Key, s.Value.Value)).OrderBy(static e => e.Key));
        Assert.Equal($"{main}:2", import.Settings["Mqtt:Listeners:mosquitto-8883:Url"].Origin);
        Assert.Equal($"{main}:7", import.Settings["Mqtt:Listeners:mosquitto-8883:CertificateIdentity"].Origin);
    }

    [Fact]
    public void Global_limits_map_with_mosquittos_zero_as_no_limit()
    {
        var main = Write("mosquitto.conf", """
            port 1884
            bind_address 0.0.0.0
            max_connections 10
            max_queued_messages 0
            max_queued_bytes 1000000
            max_inflight_messages 10
            message_size_limit 4096
            max_packet_size 100000
            max_keepalive 300
            retain_available false
            sys_interval 30
            queue_qos0_messages true
            persistence false
            max_inflight_messages 20
            """);

        var import = MosquittoImport.Read(main);

        Assert.Empty(import.Problems);
        Assert.Equal("1884", import.Settings["Mqtt:Port"].Value);
        Assert.Equal("0.0.0.0", import.Settings["Mqtt:Address"].Value);
        Assert.Equal("10", import.Settings["Mqtt:MaximumConnections"].Value);
        Assert.Equal(int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), import.Settings["Mqtt:MaximumQueuedMessages"].Value);
        Assert.Equal("1000000", import.Settings["Mqtt:MaximumQueuedBytes"].Value);
        Assert.Equal(new ImportedSetting("20", $"{main}:14"), import.Settings["Mqtt:MaximumInflightMessages"]);
        Assert.Equal(new ImportedSetting("4096", $"{main}:7"), import.Settings["Mqtt:MaximumPacketSize"]);
        Assert.Equal("300", import.Settings["Mqtt:MaximumKeepAlive"].Value);
        Assert.Equal("false", import.Settings["Mqtt:RetainAvailable"].Value);
        Assert.Equal("00:00:30", import.Settings["Mqtt:SysInterval"].Value);
        Assert.Equal("true", import.Settings["Mqtt:QueueQoS0WhileOffline"].Value);
        Assert.Equal("Memory", import.Settings["Storage:Provider"].Value);
        Assert.Equal(new ImportedSetting("false", $"{main} (Mosquitto 2.0 default)"), import.Settings["Security:AllowAnonymous"]);
        var replaced = Assert.Single(import.NotTaken);
        Assert.Equal(("max_inflight_messages", 6, $"{main}:14 sets it again"), (replaced.Directive, replaced.Line, replaced.Reason));
    }

    [Theory]
    [InlineData("auth_plugin /usr/lib/mosquitto_auth.so", 1, "auth_plugin loads an authentication plugin")]
    [InlineData("listener 1883\nplugin /usr/lib/mosquitto_dynamic_security.so", 2, "plugin loads a plugin")]
    [InlineData("listener 8883\npsk_hint broker", 2, "psk_hint makes a pre-shared-key TLS listener")]
    [InlineData("listener 1883\nmount_point tenant/", 2, "mount_point confines")]
    [InlineData("listener 1883\nuse_username_as_clientid true", 2, "use_username_as_clientid replaces")]
    [InlineData("listener 8883\ncertfile /c.pem\nkeyfile /c.key\nrequire_certificate true", 4, "require_certificate true needs cafile")]
    [InlineData("listener 8883\ncertfile /c.pem\nkeyfile /c.key\ncapath /etc/ssl/certs\nrequire_certificate true", 5, "IoTHub cannot read a directory")]
    [InlineData("listener 1883\nrequire_certificate true", 2, "without TLS no client certificate can be checked")]
    [InlineData("listener 8883\ncertfile /c.pem", 2, "certfile and keyfile go together")]
    [InlineData("port 8883\nprotocol mqtt\ncertfile /c.pem", 3, "applies to Mosquitto's default listener (port/bind_address)")]
    [InlineData("max_queued_messages many", 1, "'many' is not a whole number")]
    [InlineData("allow_anonymous yes", 1, "'yes' is not true or false")]
    public void What_cannot_be_honoured_is_a_problem_naming_file_and_line(string text, int line, string message)
    {
        var main = Write("mosquitto.conf", text);

        var import = MosquittoImport.Read(main);

        var problem = Assert.Single(import.Problems);
        Assert.StartsWith($"{main}:{line}: ", problem, StringComparison.Ordinal);
        Assert.Contains(message, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Per_listener_settings_map_anonymous_access_per_listener_and_one_password_file_for_all()
    {
        var main = Write("mosquitto.conf", """
            per_listener_settings true
            listener 1883
            password_file /etc/mosquitto/passwd
            listener 1884 127.0.0.1
            password_file /etc/mosquitto/passwd
            allow_anonymous true
            """);

        var import = MosquittoImport.Read(main);

        Assert.Empty(import.Problems);
        Assert.Equal(new ImportedSetting("/etc/mosquitto/passwd", $"{main}:3"), import.Settings["Security:PasswordFile"]);
        Assert.Equal("false", import.Settings["Mqtt:Listeners:mosquitto-1883:AllowAnonymous"].Value);
        Assert.Equal(new ImportedSetting("true", $"{main}:6"), import.Settings["Mqtt:Listeners:mosquitto-1884:AllowAnonymous"]);
        Assert.Equal("false", import.Settings["Security:AllowAnonymous"].Value);
    }

    [Fact]
    public void Per_listener_settings_with_different_password_files_stop_the_start()
    {
        var main = Write("mosquitto.conf", """
            per_listener_settings true
            listener 1883
            password_file /etc/mosquitto/a
            listener 1884
            """);

        var import = MosquittoImport.Read(main);

        var problem = Assert.Single(import.Problems);
        Assert.StartsWith($"{main}:3: per_listener_settings true with listeners that differ in password_file", problem, StringComparison.Ordinal);
        Assert.Contains($"{main}:4: none", problem, StringComparison.Ordinal);
    }

    /// <summary>The file sits above the JSON files and below the command line (and environment), and is found wherever its path is given.</summary>
    [Fact]
    public void The_imported_file_is_layered_between_the_json_files_and_the_explicit_settings()
    {
        var json = Write("appsettings.json", """{ "Mqtt": { "MaximumQueuedMessages": 7, "MaximumKeepAlive": 100, "TopicAliasMaximum": 5 } }""");
        var conf = Write("mosquitto.conf", "max_queued_messages 5\nmax_keepalive 300\n");
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationManager();
        Microsoft.Extensions.Configuration.JsonConfigurationExtensions.AddJsonFile(configuration, json);
        MosquittoConfigurationSource.AddTo(configuration);
        Microsoft.Extensions.Configuration.CommandLineConfigurationExtensions.AddCommandLine(configuration,
            ["--mosquitto-config", conf, "--Mqtt:MaximumKeepAlive=60"], new Dictionary<string, string>(Configuration.CommandLineSwitches.Mappings));

        Assert.Equal("5", configuration["Mqtt:MaximumQueuedMessages"]);
        Assert.Equal("60", configuration["Mqtt:MaximumKeepAlive"]);
        Assert.Equal("5", configuration["Mqtt:TopicAliasMaximum"]);
        var effective = new Configuration.EffectiveSettings(configuration);
        foreach (var key in new[] { "MaximumQueuedMessages", "MaximumKeepAlive", "TopicAliasMaximum", "ConnectTimeout" })
        {
            effective.Add($"Mqtt:{key}", configuration[$"Mqtt:{key}"], TimeSpan.FromSeconds(10));
        }

        Assert.Equal(
            [("5", $"{conf}:1"), ("60", "command line"), ("5", "appsettings.json"), ("00:00:10", "default")],
            effective.Settings.Select(static s => (s.Value, s.Source)));
    }

    private static int LineOf(string file, string start) =>
        Array.FindIndex(System.IO.File.ReadAllLines(file), line => line.StartsWith(start, StringComparison.Ordinal)) + 1;

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_temp.Path, name)).FullName;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_temp.Path, name);
        System.IO.File.WriteAllText(path, text + "\n");
        return path;
    }
}
