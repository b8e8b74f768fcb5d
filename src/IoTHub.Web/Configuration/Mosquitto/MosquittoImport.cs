using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace IoTHub.Web.Configuration.Mosquitto;

/// <summary>A directive of the file that IoTHub does not take, and why.</summary>
/// <param name="File">The file it stands in.</param>
/// <param name="Line">Its line number.</param>
/// <param name="Directive">Its name (never its value: a bridge's password is one).</param>
/// <param name="Reason">Why it is not taken.</param>
internal sealed record NotTakenDirective(string File, int Line, string Directive, string Reason);

/// <summary>A configuration value the import sets, and the line it comes from.</summary>
internal sealed record ImportedSetting(string Value, string Origin);

/// <summary>
/// Maps the directives of a mosquitto.conf (Mosquitto 2.0) onto IoTHub's own configuration keys: the listeners with their
/// TLS and WebSocket settings, the password and ACL files, anonymous access, persistence and the broker's limits. What
/// has no meaning here is listed in <see cref="NotTaken"/> with its file and line; what concerns security and cannot be
/// honoured (an authentication plugin, a PSK listener, a mount point, ...) is a <see cref="Problems"/> entry, which stops the start.
/// </summary>
internal sealed class MosquittoImport
{
    /// <summary>The name of Mosquitto's own listeners here: <c>mosquitto-1883</c>, <c>mosquitto-unix-1</c>.</summary>
    public const string ListenerPrefix = "mosquitto-";

    private const string Listeners = "Mqtt:Listeners";

    /// <summary>Directives of a listener (or, before any <c>listener</c> line, of Mosquitto's default listener).</summary>
    private static readonly HashSet<string> ListenerScoped =
    [
        "protocol", "socket_domain", "cafile", "capath", "certfile", "keyfile", "crlfile", "require_certificate", "use_identity_as_username",
        "use_subject_as_username", "tls_version", "ciphers", "ciphers_tls1.3", "dhparamfile", "psk_hint", "max_connections", "max_qos",
        "max_topic_alias", "mount_point", "http_dir", "use_username_as_clientid", "bind_interface", "tls_engine", "tls_keyform",
        "tls_engine_kpass_sha1",
    ];

    /// <summary>Directives that belong to a listener when <c>per_listener_settings</c> is true.</summary>
    private static readonly HashSet<string> SecurityScoped =
        ["allow_anonymous", "password_file", "acl_file", "psk_file", "auth_plugin", "plugin", "allow_zero_length_clientid", "auto_id_prefix"];

    /// <summary>Security directives that cannot be honoured here: ignoring them would let in clients Mosquitto refuses.</summary>
    private static readonly Dictionary<string, string> Refused = new(StringComparer.Ordinal)
    {
        ["auth_plugin"] = "loads an authentication plugin, which IoTHub cannot run; use its authenticators instead (docs/security.md)",
        ["plugin"] = "loads a plugin (such as dynamic security), which IoTHub cannot run; use its authenticators and stored rules instead (docs/security.md)",
        ["psk_hint"] = "makes a pre-shared-key TLS listener; IoTHub's TLS uses certificates only",
        ["psk_file"] = "holds pre-shared keys; IoTHub's TLS uses certificates only",
        ["mount_point"] = "confines a listener's clients under a topic prefix; IoTHub has no mount points (a separate broker under Mqtt:Brokers isolates clients)",
        ["bind_interface"] = "binds to a network interface by name; write its IP address on the listener line instead",
        ["clientid_prefixes"] = "refuses clients whose id lacks a prefix; IoTHub has no such check",
        ["tls_engine"] = "keeps the key in an OpenSSL engine; IoTHub needs the key in a file (keyfile)",
    };

    /// <summary>Security directives refused only when set to true.</summary>
    private static readonly Dictionary<string, string> RefusedWhenTrue = new(StringComparer.Ordinal)
    {
        ["use_subject_as_username"] = "makes the whole certificate subject the user name; IoTHub takes the Common Name (use_identity_as_username) or a subject alternative name",
        ["use_username_as_clientid"] = "replaces client ids by user names; IoTHub has no such setting",
    };

    private static readonly HashSet<string> Bridge =
    [
        "connection", "address", "addresses", "cleansession", "local_cleansession", "keepalive_interval", "idle_timeout", "local_clientid",
        "local_password", "local_username", "notifications", "notifications_local_only", "notification_topic", "remote_clientid",
        "remote_password", "remote_username", "clientid", "password", "username", "restart_timeout", "round_robin", "start_type", "threshold",
        "topic", "try_private",
    ];

    private static readonly Dictionary<string, string> Reasons = new(StringComparer.Ordinal)
    {
        ["log_dest"] = "logging is set through Logging:* and the host's log providers",
        ["log_type"] = "logging is set through Logging:LogLevel",
        ["log_facility"] = "logging is set through Logging:* and the host's log providers",
        ["log_timestamp"] = "the log providers write their own time stamps",
        ["log_timestamp_format"] = "the log providers write their own time stamps",
        ["connection_messages"] = "connections are logged by category (Logging:LogLevel)",
        ["websockets_log_level"] = "logging is set through Logging:LogLevel",
        ["pid_file"] = "IoTHub writes no pid file; the service manager knows the process",
        ["user"] = "IoTHub runs as the user that starts it",
        ["autosave_interval"] = "IoTHub stores changes as they happen (Storage:Durability)",
        ["autosave_on_changes"] = "IoTHub stores changes as they happen (Storage:Durability)",
        ["persistence_file"] = "IoTHub keeps its own store in the data directory; mosquitto.db is not read",
        ["include_dir"] = "only the main file's include_dir is read, as Mosquitto does",
        ["capath"] = "IoTHub takes the authorities of client certificates from one PEM file (cafile)",
    };

    private readonly Dictionary<string, ImportedSetting> _settings = new(StringComparer.OrdinalIgnoreCase);

    private MosquittoImport(string path) => Path = path;

    /// <summary>The main file, as a full path.</summary>
    public string Path { get; }

    /// <summary>The configuration keys set, each with the line it comes from.</summary>
    public IReadOnlyDictionary<string, ImportedSetting> Settings => _settings;

    public List<NotTakenDirective> NotTaken { get; } = [];

    /// <summary>What stops the start: a file that cannot be read, a value that does not parse, a security directive that cannot be honoured.</summary>
    public List<string> Problems { get; } = [];

    public static MosquittoImport Read(string path)
    {
        var import = new MosquittoImport(System.IO.Path.GetFullPath(path));
        import.Map(MosquittoConfigFile.Read(path, import.Problems));
        return import;
    }

    private void Map(List<MosquittoDirective> directives)
    {
        var perListener = directives.LastOrDefault(static d => d.Name == "per_listener_settings") is { } pls && Flag(pls) == true;
        var hasListeners = directives.Any(static d => d.Name == "listener");
        var main = new Scope(null);
        List<Scope> listeners = [];
        var current = main;
        var global = new Dictionary<string, MosquittoDirective>(StringComparer.Ordinal);
        foreach (var d in directives)
        {
            if (d.Name == "listener")
            {
                current = new Scope(d);
                listeners.Add(current);
            }
            else if (ListenerScoped.Contains(d.Name) || (perListener && SecurityScoped.Contains(d.Name)))
            {
                Put(current.Options, d);
            }
            else if (d.Name is "port" or "bind_address")
            {
                Put(main.Options, d);
            }
            else
            {
                Put(global, d);
            }
        }

        // Mosquitto starts its default listener when no listener line exists (on loopback), or when port or bind_address set it up.
        var configured = main.Options.ContainsKey("port") || main.Options.ContainsKey("bind_address");
        var defaultListener = !hasListeners || configured;
        var localOnly = !hasListeners && !configured;
        MapDefaultListener(main, defaultListener, localOnly);
        for (var i = 0; i < listeners.Count; i++)
        {
            MapListener(listeners[i], i + 1, perListener);
        }

        if (perListener)
        {
            MapSharedSecurity([.. (defaultListener ? [main] : Array.Empty<Scope>()), .. listeners], main, defaultListener, localOnly);
        }

        foreach (var d in global.Values.OrderBy(static d => d.File, StringComparer.Ordinal).ThenBy(static d => d.Line))
        {
            MapGlobal(d);
        }

        if (!perListener && !global.ContainsKey("allow_anonymous"))
        {
            // Mosquitto 2.0: anonymous clients only in its local-only mode (no listener configured).
            Set("Security:AllowAnonymous", localOnly ? "true" : "false", $"{Path} (Mosquitto 2.0 default)");
        }

        // Every directive of a scope that no mapping took is reported; duplicates a later line replaced, too.
        foreach (var d in directives.Where(d => !_taken.Contains(d) && d.Name != "listener"))
        {
            NotTaken.Add(new NotTakenDirective(d.File, d.Line, d.Name, ReasonFor(d)));
        }
    }

    private readonly HashSet<MosquittoDirective> _taken = [];

    /// <summary>Directives a later line of the same name replaced, with that line.</summary>
    private readonly Dictionary<MosquittoDirective, MosquittoDirective> _replaced = [];

    private void Put(Dictionary<string, MosquittoDirective> scope, MosquittoDirective d)
    {
        if (scope.TryGetValue(d.Name, out var earlier))
        {
            _replaced[earlier] = d;
        }

        scope[d.Name] = d;
    }

    private string ReasonFor(MosquittoDirective d) =>
        _replaced.TryGetValue(d, out var later) && _taken.Contains(later) ? $"{later.Origin} sets it again"
        : Reasons.TryGetValue(d.Name, out var reason) ? reason
        : Bridge.Contains(d.Name) || d.Name.StartsWith("bridge_", StringComparison.Ordinal) ? "bridges are not supported"
        : d.Name.StartsWith("auth_opt_", StringComparison.Ordinal) || d.Name.StartsWith("plugin_opt_", StringComparison.Ordinal) ? "an option of a plugin, which IoTHub cannot run"
        : "has no counterpart in IoTHub";

    /// <summary>Mosquitto's default listener (port, bind_address, and the listener directives before any listener line) becomes IoTHub's "default" one.</summary>
    private void MapDefaultListener(Scope main, bool started, bool localOnly)
    {
        if (!started)
        {
            // IoTHub's default listener always runs: it gets a free loopback port, where it serves no one by accident.
            Set("Mqtt:Address", "127.0.0.1", $"{Path} (no default listener: IoTHub's default one on loopback)");
            Set("Mqtt:Port", "0", $"{Path} (no default listener: IoTHub's default one on a free port)");
            foreach (var d in main.Options.Values.Where(static d => d.Name is not ("port" or "bind_address")))
            {
                NotTaken.Add(new NotTakenDirective(d.File, d.Line, d.Name, "applies to Mosquitto's default listener, which this file does not start"));
                _taken.Add(d);
            }

            return;
        }

        var port = main.Options.GetValueOrDefault("port");
        var bind = main.Options.GetValueOrDefault("bind_address");
        var domain = main.Options.GetValueOrDefault("socket_domain");
        Set("Mqtt:Port", port is null ? "1883" : Number(port, 1, IPEndPoint.MaxPort)?.ToString(CultureInfo.InvariantCulture), port?.Origin ?? $"{Path} (Mosquitto default)");
        var address = bind is not null ? Resolve(bind, bind.Value, domain) : localOnly ? IPAddress.Loopback : AnyAddress(domain);
        Set("Mqtt:Address", address?.ToString(), bind?.Origin ?? domain?.Origin ?? $"{Path} (Mosquitto 2.0 default{(localOnly ? ": loopback only without listeners" : string.Empty)})");
        Take(port, bind, domain);
        if (main.Options.GetValueOrDefault("max_connections") is { } max)
        {
            Set("Mqtt:MaximumConnections", Limit(max, int.MaxValue), max.Origin);
            Take(max);
        }

        foreach (var d in main.Options.Values.Where(d => !_taken.Contains(d) && !Refuse(d)))
        {
            if (d is { Name: "protocol", Value: "mqtt" })
            {
                Take(d);
            }
            else if (d.Name is "certfile" or "keyfile" or "cafile" or "require_certificate" or "use_identity_as_username" or "protocol" or "tls_version" or "crlfile")
            {
                Problems.Add($"{d.Origin}: {d.Name} applies to Mosquitto's default listener (port/bind_address), whose TLS and WebSocket settings IoTHub cannot take; write a listener line for it.");
                Take(d);
            }
        }
    }

    private void MapListener(Scope scope, int index, bool perListener)
    {
        var line = scope.Start!;
        Take(line);
        var parts = line.Value.Split([' ', '\t'], 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var port = parts.Length > 0 ? Number(line, 0, IPEndPoint.MaxPort, parts[0]) : Fail(line, "needs a port");
        if (port is null)
        {
            return;
        }

        var o = scope.Options;
        var domain = o.GetValueOrDefault("socket_domain");
        var websockets = o.GetValueOrDefault("protocol") is { } protocol && Choice(protocol, "mqtt", "websockets") == "websockets";
        var certfile = o.GetValueOrDefault("certfile");
        var keyfile = o.GetValueOrDefault("keyfile");
        var tls = certfile is not null || keyfile is not null;
        var unix = port == 0 && parts.Length > 1;
        var name = unix ? $"{ListenerPrefix}unix-{index}" : $"{ListenerPrefix}{port}";
        var key = $"{Listeners}:{name}";
        if (_settings.ContainsKey($"{key}:Url"))
        {
            Fail(line, $"uses port {port} again");
            return;
        }

        string? url;
        if (unix)
        {
            url = $"unix://{System.IO.Path.GetFullPath(parts[1])}";
        }
        else
        {
            var address = parts.Length > 1 ? Resolve(line, parts[1], domain) : AnyAddress(domain);
            var host = address?.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address?.ToString();
            var scheme = (websockets, tls) switch { (true, true) => "wss", (true, false) => "ws", (false, true) => "tls", _ => "tcp" };
            url = host is null ? null : $"{scheme}://{host}:{port}{(websockets ? MqttListenerUrl.DefaultWebSocketPath : string.Empty)}";
        }

        Set($"{key}:Url", url, line.Origin);
        Take(domain, o.GetValueOrDefault("protocol"));
        if (o.GetValueOrDefault("max_connections") is { } max)
        {
            if (Number(max, -1, int.MaxValue) is long limit and > 0)
            {
                Set($"{key}:MaximumConnections", limit.ToString(CultureInfo.InvariantCulture), max.Origin);
            }

            Take(max);
        }

        MapTls(o, key, tls, certfile, keyfile);
        foreach (var d in o.Values)
        {
            Refuse(d);
        }

        if (perListener)
        {
            var anonymous = o.GetValueOrDefault("allow_anonymous");
            Set($"{key}:AllowAnonymous", anonymous is null ? "false" : FlagText(anonymous), anonymous?.Origin ?? $"{line.Origin} (Mosquitto 2.0 default)");
            Take(anonymous);
        }
    }

    private void MapTls(Dictionary<string, MosquittoDirective> o, string key, bool tls, MosquittoDirective? certfile, MosquittoDirective? keyfile)
    {
        var require = o.GetValueOrDefault("require_certificate") is { } r && Flag(r) == true;
        var identity = o.GetValueOrDefault("use_identity_as_username") is { } u && Flag(u) == true;
        var cafile = o.GetValueOrDefault("cafile");
        Take(o.GetValueOrDefault("require_certificate"), o.GetValueOrDefault("use_identity_as_username"));
        if (!tls)
        {
            foreach (var d in new[] { o.GetValueOrDefault("require_certificate"), o.GetValueOrDefault("use_identity_as_username") }.Where(d => d is not null && Flag(d) == true))
            {
                Problems.Add($"{d!.Origin}: {d.Name} true on a listener without certfile and keyfile: without TLS no client certificate can be checked.");
            }

            return;
        }

        if (certfile is null || keyfile is null)
        {
            Problems.Add($"{(certfile ?? keyfile)!.Origin}: certfile and keyfile go together: a TLS listener needs both.");
            Take(certfile, keyfile);
            return;
        }

        Set($"{key}:Certificate", certfile.Value, certfile.Origin);
        Set($"{key}:CertificateKey", keyfile.Value, keyfile.Origin);
        Take(certfile, keyfile);
        if (o.GetValueOrDefault("tls_version") is { } version)
        {
            Set($"{key}:TlsProtocols", Choice(version, "tlsv1.3", "tlsv1.2", "tlsv1.1") == "tlsv1.3" ? "Tls13" : "Tls12,Tls13", version.Origin);
            Take(version);
        }

        if (!require && !identity)
        {
            // Mosquitto asks for no client certificate then: cafile and crlfile have nothing to check.
            return;
        }

        var rule = require ? o["require_certificate"] : o["use_identity_as_username"];
        if (cafile is null)
        {
            Problems.Add($"{rule.Origin}: {rule.Name} true needs cafile, the PEM file of the authorities client certificates must chain to" +
                (o.GetValueOrDefault("capath") is { } capath ? $" (capath at {capath.Line}: IoTHub cannot read a directory of them)." : "."));
            return;
        }

        // use_identity_as_username alone: Mosquitto refuses clients without a certificate, as an Optional listener with CertificateIdentity does.
        Set($"{key}:ClientCertificates", require ? "Required" : "Optional", rule.Origin);
        Set($"{key}:ClientCertificateAuthority", cafile.Value, cafile.Origin);
        Take(cafile);
        if (identity)
        {
            Set($"{key}:CertificateIdentity", "CommonName", o["use_identity_as_username"].Origin);
        }

        if (o.GetValueOrDefault("crlfile") is { } crl)
        {
            Set($"{key}:ClientCertificateRevocationList", crl.Value, crl.Origin);
            Take(crl);
        }
    }

    /// <summary>
    /// per_listener_settings true: anonymous access maps per listener; the password and ACL files are one for all here, so
    /// listeners that differ in them (or in plugins) cannot be honoured.
    /// </summary>
    private void MapSharedSecurity(List<Scope> scopes, Scope main, bool defaultListener, bool localOnly)
    {
        foreach (var (directive, target) in new[] { ("password_file", "Security:PasswordFile"), ("acl_file", "Security:AclFile") })
        {
            var values = scopes.Select(s => s.Options.GetValueOrDefault(directive)).ToList();
            var set = values.Where(static v => v is not null).ToList();
            if (set.Count == 0)
            {
                continue;
            }

            if (set.Count != values.Count || set.Select(static v => System.IO.Path.GetFullPath(v!.Value)).Distinct().Count() > 1)
            {
                Problems.Add($"{set[0]!.Origin}: per_listener_settings true with listeners that differ in {directive} (" +
                    string.Join(", ", scopes.Select((s, i) => $"{s.Start?.Origin ?? "default listener"}: {values[i]?.Value ?? "none"}")) +
                    "); IoTHub has one password file and one ACL file for all listeners.");
            }
            else
            {
                Set(target, set[0]!.Value, set[0]!.Origin);
            }

            Take([.. set]);
        }

        if (defaultListener)
        {
            var anonymous = main.Options.GetValueOrDefault("allow_anonymous");
            Set("Security:AllowAnonymous", anonymous is null ? (localOnly ? "true" : "false") : FlagText(anonymous),
                anonymous?.Origin ?? $"{Path} (Mosquitto 2.0 default)");
            Take(anonymous);
        }
        else
        {
            // Only IoTHub's own loopback listeners (default, and /mqtt on the HTTP endpoint) follow the global value.
            Set("Security:AllowAnonymous", "false", $"{Path} (per_listener_settings: only the file's listeners take anonymous clients)");
        }

        foreach (var d in main.Options.Values.Where(static d => d.Name == "allow_anonymous"))
        {
            Take(d);
        }
    }

    private void MapGlobal(MosquittoDirective d)
    {
        if (Refuse(d))
        {
            return;
        }

        switch (d.Name)
        {
            case "per_listener_settings":
                Flag(d);
                break;
            case "allow_anonymous":
                Set("Security:AllowAnonymous", FlagText(d), d.Origin);
                break;
            case "password_file":
                Set("Security:PasswordFile", NonEmpty(d), d.Origin);
                break;
            case "acl_file":
                Set("Security:AclFile", NonEmpty(d), d.Origin);
                break;
            case "persistence":
                Set("Storage:Provider", Flag(d) switch { true => nameof(StorageProvider.Sqlite), false => nameof(StorageProvider.Memory), null => null }, d.Origin);
                break;
            case "persistence_location":
                Set("Storage:DataDirectory", NonEmpty(d), d.Origin);
                break;
            case "max_queued_messages":
                Set("Mqtt:MaximumQueuedMessages", Limit(d, int.MaxValue), d.Origin);
                break;
            case "max_queued_bytes":
                Set("Mqtt:MaximumQueuedBytes", Limit(d, long.MaxValue), d.Origin);
                break;
            case "max_inflight_messages":
                Set("Mqtt:MaximumInflightMessages", Limit(d, ushort.MaxValue), d.Origin);
                break;
            case "message_size_limit" or "max_packet_size":
                MapPacketSize(d);
                break;
            case "max_keepalive":
                Set("Mqtt:MaximumKeepAlive", Number(d, 0, ushort.MaxValue)?.ToString(CultureInfo.InvariantCulture), d.Origin);
                break;
            case "retain_available":
                Set("Mqtt:RetainAvailable", FlagText(d), d.Origin);
                break;
            case "queue_qos0_messages":
                Set("Mqtt:QueueQoS0WhileOffline", FlagText(d), d.Origin);
                break;
            case "sys_interval" when Number(d, 0, int.MaxValue) is { } seconds:
                if (seconds == 0)
                {
                    // Not taken: IoTHub always publishes $SYS.
                    return;
                }

                Set("Mqtt:SysInterval", TimeSpan.FromSeconds(seconds).ToString("c", CultureInfo.InvariantCulture), d.Origin);
                break;
            default:
                return;
        }

        Take(d);
    }

    /// <summary>message_size_limit (the payload) and max_packet_size (the packet) both bound Mqtt:MaximumPacketSize, the whole packet: the smaller one wins, 0 is no limit.</summary>
    private void MapPacketSize(MosquittoDirective d)
    {
        const long Largest = 268_435_460;
        if (Number(d, 0, Largest) is not { } size)
        {
            return;
        }

        var value = size == 0 ? Largest : size;
        if (_settings.TryGetValue("Mqtt:MaximumPacketSize", out var earlier) && long.Parse(earlier.Value, CultureInfo.InvariantCulture) < value)
        {
            return;
        }

        Set("Mqtt:MaximumPacketSize", value.ToString(CultureInfo.InvariantCulture), d.Origin);
    }

    /// <summary>Records a security directive that cannot be honoured; true when it was one.</summary>
    private bool Refuse(MosquittoDirective d)
    {
        var reason = Refused.TryGetValue(d.Name, out var always) ? always
            : RefusedWhenTrue.TryGetValue(d.Name, out var whenTrue) && Flag(d) == true ? whenTrue
            : d.Name == "tls_keyform" && d.Value == "engine" ? Refused["tls_engine"]
            : null;
        if (reason is null)
        {
            return false;
        }

        Problems.Add($"{d.Origin}: {d.Name} {reason}. IoTHub does not start rather than run less securely than the file asks.");
        Take(d);
        return true;
    }

    private void Set(string key, string? value, string origin)
    {
        if (value is not null)
        {
            _settings[key] = new ImportedSetting(value, origin);
        }
    }

    private void Take(params MosquittoDirective?[] directives)
    {
        foreach (var d in directives)
        {
            if (d is not null)
            {
                _taken.Add(d);
            }
        }
    }

    private IPAddress? Resolve(MosquittoDirective d, string host, MosquittoDirective? domain)
    {
        var family = domain is null ? AddressFamily.Unspecified : Choice(domain, "ipv4", "ipv6") == "ipv6" ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        if (IPAddress.TryParse(host, out var literal))
        {
            return literal;
        }

        try
        {
            // Host names are resolved once, at start, as Mosquitto does when it binds.
            var addresses = Dns.GetHostAddresses(host);
            return addresses.FirstOrDefault(a => family == AddressFamily.Unspecified || a.AddressFamily == family)
                ?? Fail<IPAddress>(d, $"'{host}' has no {(family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")} address");
        }
        catch (SocketException e)
        {
            return Fail<IPAddress>(d, $"'{host}' cannot be resolved ({e.Message})");
        }
    }

    /// <summary>Every interface: both families (a dual-stack socket), or one with socket_domain.</summary>
    private IPAddress AnyAddress(MosquittoDirective? domain) =>
        domain is not null && Choice(domain, "ipv4", "ipv6") == "ipv4" ? IPAddress.Any : IPAddress.IPv6Any;

    /// <summary>A count where Mosquitto's 0 (or -1) means no limit, here the largest value the key takes.</summary>
    private string? Limit(MosquittoDirective d, long largest) =>
        Number(d, -1, largest) is { } n ? (n <= 0 ? largest : n).ToString(CultureInfo.InvariantCulture) : null;

    private long? Number(MosquittoDirective d, long minimum, long maximum, string? raw = null)
    {
        raw ??= d.Value;
        return long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= minimum && n <= maximum
            ? n
            : Fail<long?>(d, $"'{raw}' is not a whole number from {minimum} to {maximum}");
    }

    /// <summary>The flag as configuration text ("true", "false"); null when it does not parse (recorded).</summary>
    private string? FlagText(MosquittoDirective d) => Flag(d) switch { true => "true", false => "false", null => null };

    private bool? Flag(MosquittoDirective d) => d.Value switch
    {
        "true" => true,
        "false" => false,
        _ => Fail<bool?>(d, $"'{d.Value}' is not true or false"),
    };

    private string? Choice(MosquittoDirective d, params string[] choices) =>
        choices.Contains(d.Value, StringComparer.Ordinal) ? d.Value : Fail<string>(d, $"'{d.Value}' is not one of {string.Join(", ", choices)}");

    private string? NonEmpty(MosquittoDirective d) => d.Value.Length > 0 ? d.Value : Fail<string>(d, "needs a value");

    private long? Fail(MosquittoDirective d, string problem) => Fail<long?>(d, problem);

    private T? Fail<T>(MosquittoDirective d, string problem)
    {
        var message = $"{d.Origin}: {d.Name} {problem}.";
        if (!Problems.Contains(message))
        {
            Problems.Add(message);
        }

        _taken.Add(d);
        return default;
    }

    /// <summary>Mosquitto's default listener (Start null) or one listener line, with the directives that follow it.</summary>
    private sealed class Scope(MosquittoDirective? start)
    {
        public MosquittoDirective? Start { get; } = start;

        public Dictionary<string, MosquittoDirective> Options { get; } = new(StringComparer.Ordinal);
    }
}
