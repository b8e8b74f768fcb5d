using System.Net;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;
using IoTHub.Broker.Security.Bans;
using IoTHub.Broker.Security.Certificates;
using IoTHub.Broker.Security.PasswordFile;
using IoTHub.Broker.Security.Scram;
using IoTHub.Broker.Security.Users;
using IoTHub.Data.MqttUsers;
using IoTHub.Web.Auth;
using IoTHub.Web.Configuration;
using IoTHub.Web.Security.Jwt;
using IoTHub.Web.Security.Ldap;
using IoTHub.Web.Security.Sql;
using IoTHub.Web.Security.Users;
using IoTHub.Web.Security.Webhook;
using IoTHub.Web.Storage;
using IoTHub.Web.Transports.Tls;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Security;

/// <summary>
/// The authentication chain of the MQTT brokers, built from the "Security" section, and the secure default: with an
/// MQTT listener off loopback and no authenticator, the host does not start unless anonymous clients are allowed
/// explicitly (docs/security.md).
/// </summary>
internal static partial class MqttAuthentication
{
    public static IServiceCollection AddMqttAuthentication(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<SecurityOptions>, SecureDefault>();
        services.AddSingleton(static provider => MqttUserStores.Create(provider.GetRequiredService<BrokerDatabase>().Contexts));
        services.AddSingleton<MqttUserAccounts>();
        services.AddSingleton(Build);

        services.AddHttpClient(JwksKeys.HttpClientName, static client => client.Timeout = Timeout.InfiniteTimeSpan).RemoveAllLoggers();
        services.AddSingleton(static services => new BanList(services.GetRequiredService<IOptions<SecurityOptions>>().Value.Bans,
            services.GetRequiredService<TimeProvider>(), services.GetRequiredService<ILogger<BanList>>()));

        // What the brokers ask: bans first (a banned client costs no password hash), then the certificate of a listener
        // that takes user names from certificates, else the chain.
        services.AddSingleton<IConnectAuthenticator>(static services =>
        {
            var bans = services.GetRequiredService<BanList>();
            var login = new CertificateLogin(services.GetRequiredService<AuthenticationChain>());
            return bans.Enabled ? new BanGuard(bans, login) : login;
        });
        return services;
    }

    /// <summary>
    /// The MQTT listeners of every broker that are open to anyone who reaches them: neither on loopback nor a Unix socket,
    /// leaving anonymous clients to "Security:AllowAnonymous" (none of their own "AllowAnonymous", which says either way
    /// deliberately), and not taking user names from client certificates (where the certificate is the login); as
    /// "broker 'b', listener 'l' (address:port)", and the HTTP endpoint when it serves MQTT over WebSocket
    /// (<c>Http:MqttPath</c>) beyond loopback.
    /// </summary>
    private static List<string> OpenListeners(MqttOptions mqtt, HttpOptions http)
    {
        List<string> open =
        [
            .. mqtt.AllBrokers.SelectMany(static broker => broker.AllListeners
                .Where(static listener => !listener.IsLoopback && listener.AllowAnonymous is null
                    && listener.Tls is not { CertificateIdentity: not CertificateIdentity.None })
                .Select(listener => $"broker '{broker.Name}', listener '{listener.Name}' ({new IPEndPoint(listener.Address, listener.Port)})")),
        ];
        if (http.MqttPath.Length > 0 && !MqttListenerUrl.IsLoopbackAddress(http.Address))
        {
            open.Add($"the HTTP endpoint's MQTT over WebSocket ({new IPEndPoint(http.Address, http.Port)}{http.MqttPath}; {HttpOptions.SectionName}:{nameof(HttpOptions.MqttPath)}= turns it off)");
        }

        return open;
    }

    private static string FullPath(IHostEnvironment environment, string path) => Path.GetFullPath(path, environment.ContentRootPath);

    /// <summary>The authorities a webhook's CaFile holds; null for a webhook without one, and for other authenticators.</summary>
    /// <exception cref="CertificateProblemException">The file cannot be read or holds no PEM certificate.</exception>
    private static System.Security.Cryptography.X509Certificates.X509Certificate2Collection? WebhookAuthorities(IHostEnvironment environment,
        AuthenticatorOptions authenticator) =>
        authenticator.Webhook?.CaFile is { } path ? ClientAuthority.LoadAuthorities(FullPath(environment, path)) : null;

    [LoggerMessage(EventId = 1150, Level = LogLevel.Warning,
        Message = "Security:AllowAnonymous is true while MQTT listeners are open beyond loopback ({Listeners}): anyone who reaches them connects without credentials")]
    private static partial void LogAnonymousOnNetwork(ILogger logger, string listeners);

    [LoggerMessage(EventId = 1151, Level = LogLevel.Information,
        Message = "MQTT authentication: {Authenticators}; anonymous clients {Anonymous}; enhanced authentication methods: {Methods}")]
    private static partial void LogChain(ILogger logger, string authenticators, string anonymous, string methods);

    /// <summary>Checks that need more than one key: the password files exist, webhooks' CA files hold certificates, and the secure default.</summary>
    private sealed class SecureDefault(SectionBinding<MqttOptions> mqtt, SectionBinding<HttpOptions> http, IHostEnvironment environment)
        : IValidateOptions<SecurityOptions>
    {
        public ValidateOptionsResult Validate(string? name, SecurityOptions options)
        {
            List<string> failures = [];
            foreach (var authenticator in options.Authenticators.Where(static a => a.Type == AuthenticatorType.PasswordFile))
            {
                var path = FullPath(environment, authenticator.Path);
                if (!File.Exists(path))
                {
                    failures.Add($"{authenticator.Key} '{path}' does not exist. Create it with `mosquitto_passwd -c {path} <user>`.");
                }
            }

            foreach (var authenticator in options.Authenticators)
            {
                try
                {
                    _ = WebhookAuthorities(environment, authenticator);
                }
                catch (CertificateProblemException e)
                {
                    failures.Add($"{authenticator.Key}:{nameof(WebhookOptions.CaFile)} {e.Message}");
                }

                if (authenticator.Ldap?.CaFile is { } caFile && !File.Exists(FullPath(environment, caFile)))
                {
                    failures.Add($"{authenticator.Key}:{nameof(LdapOptions.CaFile)} '{FullPath(environment, caFile)}' does not exist.");
                }
            }

            var brokers = mqtt.ReadUnvalidated();
            foreach (var authenticator in options.Authenticators)
            {
                // The connection waits Mqtt:AuthenticationTimeout for the whole chain: a backend's timeout must end before it
                // for NotMine to pass the client on (with Deny both answer 0x88).
                if (authenticator.Backend is { FailurePolicy: BackendFailurePolicy.NotMine } backend
                    && brokers.AllBrokers.FirstOrDefault(b => b.Broker.AuthenticationTimeout <= backend.Timeout) is { } broker)
                {
                    failures.Add($"{authenticator.Key}:{nameof(BackendOptions.Timeout)} ({backend.Timeout}) is not shorter than {MqttOptions.SectionName}:" +
                        $"{nameof(broker.Broker.AuthenticationTimeout)} ({broker.Broker.AuthenticationTimeout}, broker '{broker.Name}'), so a backend that does not " +
                        "answer would have the client refused (0x88) before FailurePolicy NotMine could pass it to the next authenticator. Set a shorter " +
                        $"{nameof(BackendOptions.Timeout)} or a longer {nameof(broker.Broker.AuthenticationTimeout)}.");
                }
            }

            var open = OpenListeners(brokers, http.ReadUnvalidated());
            if (options.Authenticators.Count == 0 && options.AllowAnonymous is null && open.Count > 0)
            {
                failures.Add($"{SecurityOptions.SectionName}: MQTT listeners are open beyond loopback ({string.Join("; ", open)}) and no authenticator is " +
                    "configured, so anyone who reaches them could connect. Add users to a password file (`mosquitto_passwd -c <file> <user>`) " +
                    $"and start with --{SecurityOptions.SectionName}:{nameof(AuthenticatorType.PasswordFile)}=<file>, or keep users in the database " +
                    $"with --{SecurityOptions.SectionName}:{nameof(SecurityOptions.Authenticators)}:0:Type={nameof(AuthenticatorType.Database)} and add " +
                    "them through /api/v1/mqtt-users or the dashboard's Users page, or accept clients without " +
                    $"credentials deliberately with --{SecurityOptions.SectionName}:{nameof(SecurityOptions.AllowAnonymous)}=true.");
            }

            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }

    /// <summary>
    /// The chain the brokers share, built when the first broker is made (at start, after the settings were validated):
    /// opens the password files and says how clients authenticate.
    /// </summary>
    private static AuthenticationChain Build(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<SecurityOptions>>().Value;
        var environment = services.GetRequiredService<IHostEnvironment>();
        var loggers = services.GetRequiredService<ILoggerFactory>();
        var logger = loggers.CreateLogger(typeof(MqttAuthentication));
        List<IAuthenticator> authenticators = [];
        try
        {
            foreach (var authenticator in options.Authenticators)
            {
                authenticators.Add(authenticator switch
                {
                    { Type: AuthenticatorType.Database } => new DatabaseAuthenticator(services.GetRequiredService<IMqttUserStore>()),
                    { Backend: { } backend } => new BackendAuthenticator(authenticator switch
                        {
                            { Webhook: { } webhook } => new WebhookBackend(webhook.Url, WebhookAuthorities(environment, authenticator), webhook.Headers),
                            { Sql: { } sql } => new SqlBackend(sql),
                            { Jwt: { } jwt } => new JwtBackend(jwt.Secret, jwt.JwksUrl is { } jwks ? new JwksKeys(services.GetRequiredService<IHttpClientFactory>(), jwks,
                                jwt.JwksRefresh, backend.Timeout, services.GetRequiredService<TimeProvider>(), loggers.CreateLogger<JwksKeys>()) : null, jwt.Issuer,
                                jwt.Audience, jwt.ClockSkew, jwt.UserNameClaim, jwt.ClientIdClaim, jwt.RolesClaim, services.GetRequiredService<TimeProvider>()),
                            { Ldap: { } ldap } => new LdapBackend(ldap, ldap.CaFile is { } ca ? FullPath(environment, ca) : null, backend.Timeout),
                            _ => throw new InvalidOperationException($"{authenticator.Key} has neither a Url, a query, JWT keys nor an LDAP server."),
                        }, authenticator.Key, backend.Timeout, backend.FailurePolicy, loggers.CreateLogger<BackendAuthenticator>()),
                    _ => PasswordFileAuthenticator.Open(FullPath(environment, authenticator.Path), loggers.CreateLogger<PasswordFileAuthenticator>()),
                });
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CertificateProblemException)
        {
            // Checked at validation; this is a file that went away since, or one the host may not read.
            authenticators.ForEach(static authenticator => (authenticator as IDisposable)?.Dispose());
            throw new OptionsValidationException(SecurityOptions.SectionName, typeof(SecurityOptions), [$"A file of an authenticator cannot be read: {e.Message}"]);
        }

        // SCRAM is offered on the database users; the signing key (kept across restarts) seeds unknown users' salts.
        List<IEnhancedAuthenticator> enhanced = [];
        if (authenticators.OfType<DatabaseAuthenticator>().Any())
        {
            enhanced.Add(new ScramAuthenticator(services.GetRequiredService<IMqttUserStore>(), services.GetRequiredService<SigningKey>().Key.Key,
                options.PasswordHashIterations));
        }

        var allowAnonymous = options.AllowAnonymous ?? authenticators.Count == 0;
        var chain = new AuthenticationChain(authenticators, allowAnonymous, options.CacheDuration, enhanced: enhanced);
        foreach (var file in authenticators.OfType<PasswordFileAuthenticator>())
        {
            file.Reloaded += chain.ForgetAll;
        }

        LogChain(logger, authenticators.Count == 0 ? "none"
                : string.Join(", ", authenticators.Select(static a => a switch
                {
                    PasswordFileAuthenticator file => $"{file.Method} {file.Path}",
                    BackendAuthenticator backend => $"{backend.Method} {backend.Description} (timeout {backend.Timeout}, failure policy {backend.FailurePolicy})",
                    _ => a.Method,
                })),
            allowAnonymous ? "accepted" : "refused", enhanced.Count == 0 ? "none" : string.Join(", ", chain.AuthenticationMethods));
        var open = OpenListeners(services.GetRequiredService<SectionBinding<MqttOptions>>().ReadUnvalidated(),
            services.GetRequiredService<SectionBinding<HttpOptions>>().ReadUnvalidated());
        if (options.AllowAnonymous == true && open.Count > 0)
        {
            LogAnonymousOnNetwork(logger, string.Join("; ", open));
        }

        return chain;
    }
}
