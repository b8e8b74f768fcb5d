using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using IoTHub.Broker;
using IoTHub.Mqtt;
using IoTHub.Web.Transports.Limits;
using IoTHub.Web.Transports.Proxy;
using IoTHub.Web.Transports.Tls;
using IoTHub.Web.Transports.WebSockets;

namespace IoTHub.Web.Configuration;

/// <summary>Where one listener binds. Port 0 asks the system for a free port.</summary>
internal abstract class ListenerOptions
{
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    public abstract int Port { get; set; }

    public virtual void Read(SectionReader reader)
    {
        Address = reader.Address(nameof(Address), Address);
        Port = reader.Port(nameof(Port), Port);
    }
}

/// <summary>Section "Http": the admin API, dashboard and health endpoints, over HTTPS when a certificate is set.</summary>
internal sealed class HttpOptions : ListenerOptions
{
    public const string SectionName = "Http";

    /// <summary>The name of the MQTT over WebSocket listener at <see cref="MqttPath"/>, as the HTTP endpoint is named in the listeners API.</summary>
    public const string ListenerName = "http";

    public override int Port { get; set; } = 8080;

    /// <summary>Where this endpoint also serves MQTT over WebSocket for the default broker; empty: nowhere.</summary>
    public string MqttPath { get; set; } = MqttListenerUrl.DefaultWebSocketPath;

    /// <summary>The certificates of HTTPS ("Certificate", "CertificateKey", ... as a tls:// listener's); null: plain HTTP.</summary>
    public TlsSettings? Tls { get; private set; }

    /// <summary>The max-age of Strict-Transport-Security over HTTPS; zero sends none.</summary>
    public TimeSpan HstsMaxAge { get; private set; } = TimeSpan.FromDays(365);

    public string Scheme => Tls is null ? "http" : "https";

    public override void Read(SectionReader reader)
    {
        base.Read(reader);
        MqttPath = reader.Read(nameof(MqttPath), MqttPath, static (string raw, [MaybeNullWhen(false)] out string path) =>
        {
            path = raw;
            return raw.Length == 0 || (raw.StartsWith('/') && Uri.IsWellFormedUriString(raw, UriKind.Relative) && !raw.Contains('?', StringComparison.Ordinal));
        }, "is not a path such as /mqtt (or empty, for none).");
        Tls = TlsSettings.ReadOptional(reader, DateTimeOffset.UtcNow);
        HstsMaxAge = reader.Read(nameof(HstsMaxAge), HstsMaxAge, static (string raw, out TimeSpan age) =>
            TimeSpan.TryParse(raw, CultureInfo.InvariantCulture, out age) && age >= TimeSpan.Zero,
            "is not a duration such as 365.00:00:00 (days), or 00:00:00 for none.");
    }

    /// <summary>MQTT over WebSocket at <see cref="MqttPath"/> as a listener of the default broker (ws, or wss over HTTPS); null when off.</summary>
    public MqttListenerUrl? MqttListener(IReadOnlyList<IPNetwork> trustedProxies) => MqttPath.Length == 0
        ? null
        : new MqttListenerUrl(ListenerName, Address, Port)
        {
            Scheme = Tls is null ? ListenerScheme.Ws : ListenerScheme.Wss,
            Path = MqttPath,
            Tls = Tls,
            WebSocket = new WebSocketSettings([], trustedProxies, WebSocketSettings.DefaultProtocols(Tls is not null)),
        };
}

/// <summary>
/// Section "Mqtt": the default broker, its TCP listener (loopback by default until clients must
/// authenticate) and its limits. More isolated brokers go under "Mqtt:Brokers:{name}", each with its
/// own port; their other keys default to the values of the "Mqtt" section.
/// </summary>
internal sealed class MqttOptions : ListenerOptions
{
    public const string SectionName = "Mqtt";
    public const string DefaultBrokerName = "default";

    public string Name { get; private init; } = DefaultBrokerName;

    public override int Port { get; set; } = 1883;

    public BrokerOptions Broker { get; private init; } = new();

    /// <summary>The brokers of "Mqtt:Brokers", after this one in <see cref="AllBrokers"/>.</summary>
    public List<MqttOptions> AdditionalBrokers { get; } = [];

    public IEnumerable<MqttOptions> AllBrokers => [this, .. AdditionalBrokers];

    /// <summary>"TrustedProxies": whose X-Forwarded-For WebSocket listeners believe, unless a listener names its own.</summary>
    public List<IPNetwork> TrustedProxies { get; private set; } = [];

    /// <summary>The listeners of "Listeners:{name}:Url", beyond the default one at Address and Port.</summary>
    public List<MqttListenerUrl> Listeners { get; } = [];

    /// <summary>Every listener of this broker, the default one (Address and Port) first.</summary>
    public IEnumerable<MqttListenerUrl> AllListeners => [new(MqttListenerUrl.DefaultName, Address, Port), .. Listeners];

    /// <summary>Reads the default broker, then every named one, and checks that no two listeners share a port.</summary>
    public void ReadAll(SectionReader reader)
    {
        Read(reader);
        ReadBroker(reader);

        // Read by the configuration source that imports the file (Configuration/Mosquitto); a known key of this section only.
        _ = reader.Text(Mosquitto.MosquittoConfigurationSource.SettingName, string.Empty);
        TrustedProxies = reader.Items<IPNetwork>(Transports.TrustedProxies.Key, Transports.TrustedProxies.TryParseNetwork, Transports.TrustedProxies.Problem);
        ReadListeners(reader);
        foreach (SectionReader child in reader.Children("Brokers"))
        {
            var named = new MqttOptions { Name = child.Name, Address = Address, Broker = Broker.Clone() };
            child.Require(nameof(Port));
            named.Read(child);
            named.ReadBroker(child);
            if (named.Name.Equals(DefaultBrokerName, StringComparison.OrdinalIgnoreCase))
            {
                child.Fail(nameof(Port), $"belongs to a broker named '{DefaultBrokerName}', the name of the broker configured by the \"Mqtt\" section itself.");
            }
            else if (PortTaken(named.Port))
            {
                child.Fail(nameof(Port), $"{named.Port} is already the port of another broker.");
            }

            AdditionalBrokers.Add(named);
            named.ReadListeners(child, this);
            child.RejectUnknownKeys();
        }
    }

    /// <summary>Reads "Listeners:{name}:Url" of one broker's section; ports are checked against every listener read so far.</summary>
    private void ReadListeners(SectionReader reader, MqttOptions? all = null)
    {
        all ??= this;
        foreach (SectionReader child in reader.Children(nameof(Listeners)))
        {
            const string Key = "Url";
            child.Require(Key);
            var name = child.Name;
            var listener = child.Read(Key, (MqttListenerUrl?)null,
                (string raw, [MaybeNullWhen(false)] out MqttListenerUrl? value) => MqttListenerUrl.TryParse(name, raw, out value), MqttListenerUrl.Problem);
            listener = ReadTransport(child, listener, all.TrustedProxies);
            child.RejectUnknownKeys();
            if (listener is null)
            {
                continue;
            }

            if (name.Equals(MqttListenerUrl.DefaultName, StringComparison.OrdinalIgnoreCase))
            {
                child.Fail(Key, $"belongs to a listener named '{MqttListenerUrl.DefaultName}', the name of the one at Address and Port.");
            }
            else if (name.Equals(HttpOptions.ListenerName, StringComparison.OrdinalIgnoreCase))
            {
                child.Fail(Key, $"belongs to a listener named '{HttpOptions.ListenerName}', the name of MQTT over WebSocket at Http:MqttPath in the listeners API and metrics.");
            }
            else if (all.PortTaken(listener.Port))
            {
                child.Fail(Key, $"port {listener.Port} is already taken by another MQTT listener.");
            }

            Listeners.Add(listener);
        }
    }

    /// <summary>
    /// The keys of a listener's scheme (certificates for tls/wss/detect, origins and proxies for ws/wss/detect, the socket
    /// file's mode and owners for unix) and those every listener takes (PROXY protocol, limits, anonymous clients);
    /// null when one of them is bad.
    /// </summary>
    private static MqttListenerUrl? ReadTransport(SectionReader reader, MqttListenerUrl? listener, List<IPNetwork> trustedProxies)
    {
        if (listener is null)
        {
            return null;
        }

        var problems = reader.Errors.Count;
        listener = listener with
        {
            Unix = listener.Unix?.Read(reader),
            WebSocket = listener.TakesWebSocket ? WebSocketSettings.Read(reader, trustedProxies, listener.Scheme) : null,
            ProxyProtocol = ProxyProtocolSettings.Read(reader, trustedProxies),
            Limits = ConnectionLimits.Read(reader),
            AllowAnonymous = reader.OptionalFlag(nameof(MqttListenerUrl.AllowAnonymous)),
            Tls = listener.TakesTls ? TlsSettings.Read(reader, DateTimeOffset.UtcNow, required: listener.IsSecure) : null,
        };
        return reader.Errors.Count > problems ? null : listener;
    }

    /// <summary>Whether a fixed port is held by a listener of any broker read so far (0, any free port, never is).</summary>
    private bool PortTaken(int port) => port != 0 && AllBrokers.Any(broker => broker.AllListeners.Any(listener => listener.Port == port));

    private void ReadBroker(SectionReader reader)
    {
        var b = Broker;
        b.MaximumPacketSize = (int)reader.Number(nameof(b.MaximumPacketSize), b.MaximumPacketSize, 64, VariableByteInteger.MaxValue + 5);
        b.ConnectTimeout = reader.Duration(nameof(b.ConnectTimeout), b.ConnectTimeout);
        b.AuthenticationTimeout = reader.Duration(nameof(b.AuthenticationTimeout), b.AuthenticationTimeout);
        b.MaximumConnections = (int)reader.Number(nameof(b.MaximumConnections), b.MaximumConnections, 1, int.MaxValue);
        b.MaximumInflightMessages = (int)reader.Number(nameof(b.MaximumInflightMessages), b.MaximumInflightMessages, 1, ushort.MaxValue);
        b.MaximumIncomingInflightMessages = (int)reader.Number(nameof(b.MaximumIncomingInflightMessages), b.MaximumIncomingInflightMessages, 1, ushort.MaxValue);
        b.MaximumQueuedMessages = (int)reader.Number(nameof(b.MaximumQueuedMessages), b.MaximumQueuedMessages, 0, int.MaxValue);
        b.MaximumQueuedBytes = reader.Number(nameof(b.MaximumQueuedBytes), b.MaximumQueuedBytes, 0, long.MaxValue);
        b.RetainedDeliveryBatch = (int)reader.Number(nameof(b.RetainedDeliveryBatch), b.RetainedDeliveryBatch, 1, 65_535);
        b.QueueOverflowPolicy = reader.Choice(nameof(b.QueueOverflowPolicy), b.QueueOverflowPolicy);
        b.QueueQoS0WhileOffline = reader.Flag(nameof(b.QueueQoS0WhileOffline), b.QueueQoS0WhileOffline);
        b.PersistentSessionLifetime = reader.Duration(nameof(b.PersistentSessionLifetime), b.PersistentSessionLifetime);
        b.MaximumTopicLength = (int)reader.Number(nameof(b.MaximumTopicLength), b.MaximumTopicLength, 1, TopicRules.MaxLength);
        b.MaximumTopicLevels = (int)reader.Number(nameof(b.MaximumTopicLevels), b.MaximumTopicLevels, 1, TopicRules.MaxLength);
        b.MaximumSubscriptionsPerClient = (int)reader.Number(nameof(b.MaximumSubscriptionsPerClient), b.MaximumSubscriptionsPerClient, 1, int.MaxValue);
        b.StuckClientTimeout = reader.Duration(nameof(b.StuckClientTimeout), b.StuckClientTimeout);
        b.DrainTimeout = reader.Duration(nameof(b.DrainTimeout), b.DrainTimeout);
        b.SysInterval = reader.Duration(nameof(b.SysInterval), b.SysInterval);
        b.TopicAliasMaximum = (int)reader.Number(nameof(b.TopicAliasMaximum), b.TopicAliasMaximum, 0, ushort.MaxValue);
        b.ServerKeepAlive = (int)reader.Number(nameof(b.ServerKeepAlive), b.ServerKeepAlive, 0, ushort.MaxValue);
        b.MaximumKeepAlive = (int)reader.Number(nameof(b.MaximumKeepAlive), b.MaximumKeepAlive, 1, ushort.MaxValue);
        b.MaximumQoS = (QualityOfService)reader.Number(nameof(b.MaximumQoS), (long)b.MaximumQoS, 0, 2);
        b.RetainAvailable = reader.Flag(nameof(b.RetainAvailable), b.RetainAvailable);
        b.ResponseInformation = reader.Text(nameof(b.ResponseInformation), b.ResponseInformation);
        b.Redirect = reader.Choice(nameof(b.Redirect), b.Redirect);
        b.SharedSubscriptionStrategy = reader.Choice(nameof(b.SharedSubscriptionStrategy), b.SharedSubscriptionStrategy);
        b.ServerReference = reader.Text(nameof(b.ServerReference), b.ServerReference);
        if (b.Redirect != ServerRedirect.None && b.ServerReference.Length == 0)
        {
            reader.Fail(nameof(b.ServerReference), $"must be set when Redirect is {b.Redirect}.");
        }
    }
}
